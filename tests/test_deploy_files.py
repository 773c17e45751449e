"""The deployment files stay in step with the code: docker-compose.yml and .env.example.

No Docker needed: the compose file is read as YAML, the environment variables the code reads are
found by parsing the Python sources (ast) and the Makefile.
"""

from __future__ import annotations

import ast
import math
import re
import tomllib
from collections import Counter
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"

APP_SERVICES = ("web", "worker", "beat")
BACKING_SERVICES = ("postgres", "redis")
ALL_SERVICES = APP_SERVICES + BACKING_SERVICES

ENV_FUNCTIONS = {"env_bool", "env_int", "env_list", "env_str", "env_secret"}
# Read by the images of the backing services, not by the portal: need no entry in .env.example.
COMPOSE_ONLY_VARIABLES = {"POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD"}

ENV_LINE = re.compile(r"^#?[ \t]*([A-Z][A-Z0-9_]*)=(.*)$")
SECRET_NAME = re.compile(r"SECRET|PASSWORD|TOKEN|(^|_)KEY($|_)|CREDENTIAL")
PLACEHOLDER = re.compile(r"^(|<[^>]*>|[A-Z][A-Z_]*|change-?me.*|\.\.\.)$", re.IGNORECASE)


# --- helpers ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict), "docker-compose.yml is not a mapping"
    return data


def service(compose: dict, name: str) -> dict:
    return compose["services"][name]


def as_text(command: str | list[str] | None) -> str:
    if command is None:
        return ""
    return command if isinstance(command, str) else " ".join(str(part) for part in command)


def environment(svc: dict) -> dict[str, str]:
    """Compose allows a mapping or a list of NAME=value strings."""
    env = svc.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) if "=" in item else (item, "") for item in env)
        return {name: value for name, value in pairs}
    return {name: "" if value is None else str(value) for name, value in env.items()}


def documented_variables() -> dict[str, str]:
    """NAME -> value for every `NAME=value` or `# NAME=value` line of .env.example."""
    found = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = ENV_LINE.match(line.strip())
        if match:
            found[match.group(1)] = match.group(2).strip()
    return found


def _python_sources() -> list[Path]:
    """The code whose environment reads must be documented: the apps, manage.py and the test settings
    (which read CI / PORTAL_REQUIRE_SERVICES). Test modules themselves are left out."""
    files = [ROOT / "manage.py", ROOT / "tests" / "settings.py"]
    for package in _top_level_packages():
        files.extend(sorted((ROOT / package).rglob("*.py")))
    return [path for path in files if path.is_file()]


def _top_level_packages() -> list[str]:
    """Top-level packages from pyproject's setuptools `include` patterns (portal*, clusters*, ...)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted({pattern.rstrip("*").split(".")[0] for pattern in patterns})


def _is_os_environ(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def _constant_str(args: list[ast.expr]) -> str | None:
    if args and isinstance(args[0], ast.Constant) and isinstance(args[0].value, str):
        return args[0].value
    return None


def _reads_environment(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id in ENV_FUNCTIONS
    if isinstance(func, ast.Attribute):
        if func.attr in {"get", "setdefault"}:
            return _is_os_environ(func.value)
        return func.attr == "getenv" and isinstance(func.value, ast.Name) and func.value.id == "os"
    return False


def env_reads(source: str) -> set[str]:
    """Names read through env_*("NAME"), os.environ.get/setdefault("NAME"), os.getenv("NAME"), os.environ["NAME"].

    Names built at run time (env_secret's f"{name}_FILE") are not constants and are documented as a
    convention in .env.example instead.
    """
    names = set()
    for node in ast.walk(ast.parse(source)):
        name = None
        if isinstance(node, ast.Call) and _reads_environment(node.func):
            name = _constant_str(node.args)
        elif isinstance(node, ast.Subscript) and _is_os_environ(node.value):
            name = _constant_str([node.slice])
        if name:
            names.add(name)
    return names


def makefile_variables() -> set[str]:
    """Variables a caller can set for make: `NAME ?= ...`, $(NAME) the Makefile never assigns, $${NAME...}."""
    text = (ROOT / "Makefile").read_text()
    assigned = set(re.findall(r"^(?:export\s+)?([A-Z][A-Z0-9_]*)\s*[:+]?=", text, re.MULTILINE))
    overridable = set(re.findall(r"^(?:export\s+)?([A-Z][A-Z0-9_]*)\s*\?=", text, re.MULTILINE))
    # make's own variables ($(MAKE) for a recursive make) are not the caller's to set.
    referenced = set(re.findall(r"\$\(([A-Z][A-Z0-9_]*)\)", text)) - {"MAKE", "MAKEFLAGS", "CURDIR"}
    shell = set(re.findall(r"\$\$\{([A-Z][A-Z0-9_]*)", text))
    return overridable | (referenced - assigned) | shell


def settings_variables() -> set[str]:
    return env_reads((ROOT / "portal" / "settings.py").read_text())


def code_variables() -> set[str]:
    names = set()
    for path in _python_sources():
        names |= env_reads(path.read_text())
    return names | makefile_variables()


# --- docker-compose.yml ----------------------------------------------------------------------------


def test_compose_defines_the_five_services(compose):
    assert set(ALL_SERVICES) <= set(compose.get("services", {}))


def test_web_runs_gunicorn_after_migrate_and_collectstatic(compose):
    command = as_text(service(compose, "web").get("command"))
    assert re.search(r"\bgunicorn\b.*\bportal\.wsgi(:application)?\b", command), command
    assert "8000" in command
    gunicorn_at = command.index("gunicorn")
    migrate = command.find("migrate --noinput")
    collectstatic = command.find("collectstatic --noinput")
    assert 0 <= migrate < gunicorn_at, "web must migrate before starting gunicorn"
    assert 0 <= collectstatic < gunicorn_at, "web must collect static files before starting gunicorn"


def test_worker_and_beat_run_celery_for_the_portal_app(compose):
    worker = as_text(service(compose, "worker").get("command"))
    beat = as_text(service(compose, "beat").get("command"))
    assert re.search(r"\bcelery\s+(-A|--app)[ =]portal\s+worker\b", worker), worker
    assert re.search(r"\bcelery\s+(-A|--app)[ =]portal\s+beat\b", beat), beat


@pytest.mark.parametrize("name", ALL_SERVICES)
def test_every_service_has_a_healthcheck(compose, name):
    healthcheck = service(compose, name).get("healthcheck") or {}
    assert not healthcheck.get("disable"), f"{name}: healthcheck disabled"
    test = healthcheck.get("test")
    assert test, f"{name}: healthcheck without a test command"
    if isinstance(test, list):
        assert test[0] in {"CMD", "CMD-SHELL"}, f"{name}: healthcheck test must start with CMD or CMD-SHELL"
        assert len(test) > 1 and all(str(part).strip() for part in test[1:]), f"{name}: empty command"


def test_healthchecks_probe_the_right_thing(compose):
    checks = {name: as_text(service(compose, name)["healthcheck"]["test"]) for name in ALL_SERVICES}
    assert "http://127.0.0.1:8000/healthz" in checks["web"]
    assert re.search(r"celery\s+-A\s+portal\s+inspect\s+ping", checks["worker"])
    assert "celerybeat-schedule" in checks["beat"]
    assert "/tmp/celerybeat-schedule" in as_text(service(compose, "beat")["command"])
    assert "pg_isready" in checks["postgres"]
    assert "redis-cli ping" in checks["redis"]


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_wait_for_healthy_postgres_and_redis(compose, name):
    depends_on = service(compose, name).get("depends_on")
    assert isinstance(depends_on, dict), f"{name}: depends_on must use the long form with conditions"
    for backing in BACKING_SERVICES:
        assert backing in depends_on, f"{name} does not depend on {backing}"
        assert depends_on[backing].get("condition") == "service_healthy", f"{name} -> {backing}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_get_the_shared_environment(compose, name):
    env = environment(service(compose, name))
    for required in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG"):
        assert env.get(required), f"{name}: {required} missing"
    assert env["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in env["DATABASE_URL"]
    assert env["REDIS_URL"].startswith("redis://redis:6379/")
    assert env["DEBUG"].lower() == "false"
    # The key comes from the caller's environment / .env, and compose refuses to start without it.
    assert re.fullmatch(r"\$\{SECRET_KEY:\?[^}]*\}", env["SECRET_KEY"]), env["SECRET_KEY"]


def test_app_services_share_one_environment(compose):
    environments = [environment(service(compose, name)) for name in APP_SERVICES]
    assert all(env == environments[0] for env in environments)


@pytest.mark.parametrize("name", APP_SERVICES)
def test_image_is_built_from_an_inline_dockerfile(compose, name):
    build = service(compose, name).get("build")
    assert isinstance(build, dict), f"{name}: build must be a mapping with dockerfile_inline"
    assert "dockerfile" not in build, f"{name}: must not reference a Dockerfile file"
    assert build.get("context") in {".", "./"}
    dockerfile = build.get("dockerfile_inline") or ""
    assert dockerfile.lstrip().startswith("FROM python:3.11-slim"), dockerfile[:80]
    assert re.search(r"^RUN .*\bpip install \.(\s|$)", dockerfile, re.MULTILINE)
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1] not in {"root", "0", "0:0"}, "the image must run as a non-root user"


def test_inline_dockerfile_copies_everything_the_portal_needs(compose):
    dockerfile = service(compose, "web")["build"]["dockerfile_inline"]
    copied = set()
    for sources in re.findall(r"^COPY\s+(?:--\S+\s+)*(.+)\s+\S+$", dockerfile, re.MULTILINE):
        copied.update(source.rstrip("/") for source in sources.split())
    needed = {"pyproject.toml", "README.md", "manage.py", "templates", *_top_level_packages()}
    assert "." in copied or needed <= copied, f"not copied into the image: {sorted(needed - copied)}"


def test_no_top_level_dockerfile():
    assert not (ROOT / "Dockerfile").exists()


def test_compose_environment_is_documented(compose):
    documented = set(documented_variables())
    used = set()
    for name in ALL_SERVICES:
        used |= set(environment(service(compose, name)))
    undocumented = sorted(used - documented - COMPOSE_ONLY_VARIABLES)
    assert not undocumented, f"used in docker-compose.yml but not in .env.example: {undocumented}"


# --- .env.example ----------------------------------------------------------------------------------


def test_settings_parser_finds_the_settings_variables():
    found = settings_variables()
    assert {"SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS", "OIDC_RP_CLIENT_ID"} <= found
    assert len(found) >= 30


def test_every_settings_variable_is_documented():
    missing = sorted(settings_variables() - set(documented_variables()))
    assert not missing, f"read in portal/settings.py but not documented in .env.example: {missing}"


def test_every_variable_the_code_and_makefile_read_is_documented():
    assert {"PORT", "PYTHON"} <= makefile_variables()
    missing = sorted(code_variables() - set(documented_variables()))
    assert not missing, f"read by the code or the Makefile but not documented in .env.example: {missing}"


def test_env_example_documents_only_real_variables():
    stale = sorted(set(documented_variables()) - code_variables())
    assert not stale, f"documented in .env.example but read nowhere: {stale}"


def test_env_example_lists_each_variable_once():
    names = [
        match.group(1)
        for line in ENV_EXAMPLE.read_text().splitlines()
        if (match := ENV_LINE.match(line.strip()))
    ]
    assert [name for name, count in Counter(names).items() if count > 1] == []


def test_env_example_explains_the_file_secret_convention():
    text = ENV_EXAMPLE.read_text()
    assert "_FILE" in text


def _looks_random(value: str) -> bool:
    """A long token of mixed letters and digits with high entropy, like a generated key."""
    for token in re.findall(r"[A-Za-z0-9+/=_\-]{20,}", value):
        if not (re.search(r"[A-Za-z]", token) and re.search(r"\d", token)):
            continue
        counts = Counter(token)
        entropy = -sum(n / len(token) * math.log2(n / len(token)) for n in counts.values())
        if entropy > 3.5:
            return True
    return False


def test_looks_random_tells_keys_from_settings():
    assert _looks_random("k3J9x-Qm2ZpL8vTn4WbR7yHc1sDf6Ga0")
    assert not _looks_random("django.core.mail.backends.console.EmailBackend")
    assert not _looks_random("msk-platform-admins")


def test_env_example_contains_no_real_looking_secrets():
    text = ENV_EXAMPLE.read_text()
    assert not re.search(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b", text), "AWS access key id"
    assert "PRIVATE KEY" not in text
    for user_password in re.findall(r"://([^/\s@]*)@", text):
        password = user_password.partition(":")[2]
        assert PLACEHOLDER.match(password), f"URL with a password: {user_password}"
    for name, value in documented_variables().items():
        if SECRET_NAME.search(name):
            assert PLACEHOLDER.match(value), f"{name} has a value; leave secrets empty in .env.example"
        assert not _looks_random(value), f"{name}={value} looks like a real secret"
