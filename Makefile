# Two commands: `make run` (portal + worker + beat on embedded defaults) and `make test` (whole suite).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# pytest-xdist processes for `make test` and `make test-fast` (auto: one per CPU core).
PYTEST_WORKERS ?= auto
PYTEST := DJANGO_SETTINGS_MODULE=tests.settings $(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup
# Run-time files (SQLite database, broker, beat schedule, local.env); PORTAL_VAR_DIR moves them, as for the portal.
VAR_DIR := $(or $(PORTAL_VAR_DIR),var)

.PHONY: run test test-fast setup setup-test migrate demo lint lint-imports format clean screenshots

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

# This checkout's development settings, read by portal/settings.py for every command run here (the
# environment wins): DEBUG on and a SECRET_KEY of its own. Written once; `make clean` removes it.
$(VAR_DIR)/local.env:
	mkdir -p $(VAR_DIR)
	printf '%s\n' \
	  '# Written by make for this checkout: every command run here (manage.py, celery) runs like make run.' \
	  '# Environment variables win over these lines. Never copy this file to a server.' \
	  'DEBUG=true' \
	  "SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')" > $@.tmp
	mv $@.tmp $@

migrate: setup $(VAR_DIR)/local.env
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py seed_demo

run: demo
	$(PY) manage.py devstack --port $(PORT)

# The static checks first, then the whole suite in parallel (tests that share one process, the browser or
# the Kafka broker, run on one xdist worker: SHARED_PROCESSES in tests/conftest.py; the slow ones start first).
test: lint
	$(PYTEST) $(PYTEST_ARGS)

# The edit-test loop: everything but real processes (worker, devstack, Kafka broker), the browser and
# the slow tests; no static checks. Property tests run a tenth of their examples (the "fast" Hypothesis
# profile, tests/conftest.py); `make test` runs them all.
test-fast: setup-test
	HYPOTHESIS_PROFILE=fast $(PYTEST) -m "not services and not browser and not slow" $(PYTEST_ARGS)

# The browser tour of the demo (every role, desktop and phone width), keeping a PNG of every page.
screenshots: setup-test
	PORTAL_SCREENSHOTS=var/screenshots DJANGO_SETTINGS_MODULE=tests.settings $(PY) -m pytest tests/system/browser/test_tour.py -q

# Static checks, the first step of `make test`: ruff (lint, and format with no `# fmt: skip`), bandit
# (high severity), models without migrations, and the import layers (`make lint-imports`).
lint: setup-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@if grep -rn --include='*.py' --exclude-dir=.venv '# fmt: skip' .; then echo 'ruff format decides the layout: drop these # fmt: skip'; exit 1; fi
	$(VENV)/bin/bandit -q -r portal clusters billing -c pyproject.toml --severity-level high --confidence-level medium
	env -u DJANGO_SETTINGS_MODULE DEBUG=true DATABASE_URL=sqlite:///:memory: $(PY) manage.py makemigrations --check --dry-run
	@if $(MAKE) -n lint-imports >/dev/null 2>&1; then $(MAKE) --no-print-directory lint-imports; fi

# The import layers in pyproject.toml ([tool.importlinter]; docs/architecture.md explains them).
lint-imports: setup-test
	$(VENV)/bin/lint-imports

format: setup-test
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

clean:
	rm -rf var .pytest_cache
