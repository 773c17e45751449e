# Two commands: `make run` (portal + worker + beat on embedded defaults) and `make test` (whole suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000

.PHONY: run test setup setup-test migrate demo lint format clean screenshots

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Reinstall only when pyproject.toml changes.
$(VENV)/.installed-run: pyproject.toml | $(VENV)/bin/activate
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(VENV)/bin/activate
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-run

setup: $(VENV)/.installed-run

setup-test: $(VENV)/.installed-test

migrate: setup
	DEBUG=$${DEBUG:-true} $(PY) manage.py migrate --noinput

demo: migrate
	DEBUG=$${DEBUG:-true} $(PY) manage.py seed_demo

run: demo
	DEBUG=$${DEBUG:-true} $(PY) manage.py devstack --port $(PORT)

test: setup-test
	DJANGO_SETTINGS_MODULE=tests.settings $(PY) -m pytest $(PYTEST_ARGS)

# The browser tour of the demo (every role, desktop and phone width), keeping a PNG of every page.
screenshots: setup-test
	PORTAL_SCREENSHOTS=var/screenshots DJANGO_SETTINGS_MODULE=tests.settings $(PY) -m pytest tests/browser/test_tour.py -q

lint: setup-test
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: setup-test
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

clean:
	rm -rf var .pytest_cache
