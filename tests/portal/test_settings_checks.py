"""The settings' own checks, run as `manage.py` commands in a fresh process: production settings pass
`check --deploy`, missing or malformed settings stop the portal at startup with a clear message, and a
checkout set up by make runs in development mode.

(Ruff, bandit and `makemigrations --check` are not tests: `make lint` runs them, as the first step of
`make test`.)"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*command: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)


def _env(**overrides: str) -> dict:
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env.update(overrides)
    return env


def _production_env(**overrides: str) -> dict:
    return _env(
        DEBUG="false",
        SECRET_KEY="k3y-" + "production-grade-and-long-enough-" * 2,
        ALLOWED_HOSTS="portal.example.com",
        DATABASE_URL="sqlite:///:memory:",
        **overrides,
    )


def test_production_settings_pass_check_deploy():
    env = _production_env(PORTAL_BASE_URL="https://portal.example.com")
    for name in ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS"):
        env.pop(name, None)
    result = run(sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warns_when_links_in_mails_would_point_at_localhost():
    env = _production_env()
    env.pop("PORTAL_BASE_URL", None)
    result = run(sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    assert "portal.W001" in result.stderr and "PORTAL_BASE_URL is 'http://127.0.0.1:8000'" in result.stderr


def test_a_checkout_set_up_by_make_runs_its_commands_in_development_mode(tmp_path):
    # `make run` writes var/local.env (DEBUG on, a SECRET_KEY of its own); the environment still wins.
    env = _env(PORTAL_VAR_DIR=str(tmp_path))
    for name in ("DEBUG", "SECRET_KEY", "DATABASE_URL"):
        env.pop(name, None)
    made = subprocess.run(
        ["make", "-s", f"{tmp_path}/local.env"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr
    key = next(
        line for line in (tmp_path / "local.env").read_text().splitlines() if line.startswith("SECRET_KEY=")
    )
    assert len(key) > 60
    show = "from django.conf import settings; print(settings.DEBUG, settings.SECRET_KEY)"
    result = run(sys.executable, "manage.py", "shell", "--no-imports", "-c", show, env=env)
    assert result.stdout.split() == ["True", key.removeprefix("SECRET_KEY=")], result.stderr
    result = run(
        sys.executable, "manage.py", "shell", "--no-imports", "-c", show, env={**env, "DEBUG": "false"}
    )
    assert result.stdout.split()[0] == "False", result.stderr
    (tmp_path / "local.env").write_text("DEBUG true\n")
    result = run(sys.executable, "manage.py", "check", env=env)
    assert result.returncode != 0 and "local.env, line 1: expected NAME=value" in result.stderr


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = _env(DEBUG="false", DATABASE_URL="sqlite:///:memory:")
    env.pop("SECRET_KEY", None)
    result = run(sys.executable, "manage.py", "check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_boolean_settings_are_strict(value):
    result = run(sys.executable, "manage.py", "check", env=_env(DEBUG=value))
    assert result.returncode != 0
    assert "DEBUG must be true or false" in result.stderr


def test_single_sign_on_settings_are_checked_at_startup():
    env = _env(DEBUG="true", OIDC_RP_CLIENT_ID="portal", OIDC_OP_AUTHORIZATION_ENDPOINT="https://idp/auth")
    result = run(sys.executable, "manage.py", "check", env=env)
    assert result.returncode != 0
    assert "OIDC_OP_TOKEN_ENDPOINT, OIDC_OP_USER_ENDPOINT, OIDC_OP_JWKS_ENDPOINT is missing" in result.stderr

    env.update(
        OIDC_OP_TOKEN_ENDPOINT="https://idp/token",
        OIDC_OP_USER_ENDPOINT="https://idp/userinfo",
        OIDC_OP_JWKS_ENDPOINT="https://idp/jwks",
        OIDC_RP_CLIENT_SECRET="s",
    )
    result = run(sys.executable, "manage.py", "check", env=env)
    assert result.returncode == 0, result.stderr


def test_a_fresh_checkout_migrates_on_the_embedded_defaults(tmp_path):
    # What `make run` does first, with no var/ folder and no DATABASE_URL / broker settings.
    env = _env(DEBUG="true", PORTAL_VAR_DIR=str(tmp_path / "not-yet" / "var"))
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        env.pop(name, None)
    result = run(sys.executable, "manage.py", "migrate", "--noinput", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "not-yet" / "var" / "portal.sqlite3").exists()
