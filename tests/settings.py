"""Test settings: the real PostgreSQL and Redis when they are reachable, embedded defaults otherwise.

In CI (CI=true, or PORTAL_REQUIRE_SERVICES=1) an unreachable PostgreSQL or Redis is an error, not a
silent fallback, so the suite cannot pass on SQLite by accident.
"""

import hashlib
import os
import socket
import tempfile
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

REQUIRE_SERVICES = (
    os.environ.get("CI", "").lower() == "true" or os.environ.get("PORTAL_REQUIRE_SERVICES") == "1"
)


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


if not os.environ.get("DATABASE_URL"):
    if _reachable("127.0.0.1", 5432):
        os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/portal"
    elif REQUIRE_SERVICES:
        raise ImproperlyConfigured("CI needs PostgreSQL on 127.0.0.1:5432 (start it; see .ci/run)")

if not os.environ.get("REDIS_URL") and not os.environ.get("CELERY_BROKER_URL"):
    if _reachable("127.0.0.1", 6379):
        os.environ["REDIS_URL"] = "redis://127.0.0.1:6379/15"
    elif REQUIRE_SERVICES:
        raise ImproperlyConfigured("CI needs Redis on 127.0.0.1:6379 (start it; see .ci/run)")

# Own queue per checkout, run and pytest-xdist worker: worker processes started by tests inherit it, so
# two runs sharing the machine's Redis, or two xdist workers of one run, never consume each other's tasks.
os.environ.setdefault(
    "CELERY_QUEUE",
    "portal-test-"
    + hashlib.sha1(str(Path(__file__).resolve().parents[1]).encode(), usedforsecurity=False).hexdigest()[:8]
    + f"-{os.getpid()}",
)
# pytest-django imports these settings in the xdist controller too, before it starts the workers, and the
# workers inherit its environment: without the worker's id in the name every worker had the controller's
# queue, and a real worker started by one test took the tasks another xdist worker's test published (for
# ids of its own database). Added once: processes started by an xdist worker inherit the id and the name.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if _XDIST_WORKER and not os.environ["CELERY_QUEUE"].endswith(f"-{_XDIST_WORKER}"):
    os.environ["CELERY_QUEUE"] += f"-{_XDIST_WORKER}"
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-" + "x" * 40)
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("PORTAL_VAR_DIR", str(Path(tempfile.gettempdir()) / f"msk-portal-tests-{os.getuid()}"))

from portal.settings import *  # noqa: E402,F403
from portal.settings import BASE_DIR, DATABASES, INSTALLED_APPS, STATIC_ROOT, VAR_DIR  # noqa: E402

# Tests drive both providers (MSK_PROVIDER is overridden per test), so the simulator's app is always there.
if "clusters.providers.local.apps.LocalMskConfig" not in INSTALLED_APPS:
    INSTALLED_APPS = [*INSTALLED_APPS, "clusters.providers.local.apps.LocalMskConfig"]

VAR_DIR.mkdir(parents=True, exist_ok=True)
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; tests only
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# One test database per checkout and run, so two runs on one machine (CI beside a developer, or two
# checkouts) never drop each other's database mid-run. pytest-django drops it at the end of the run.
_CHECKOUT = hashlib.sha1(str(BASE_DIR).encode(), usedforsecurity=False).hexdigest()[:8] + f"_{os.getpid()}"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so worker processes started by tests see the same database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-portal-{_CHECKOUT}.sqlite3")}
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_portal_{_CHECKOUT}"}
# Tasks run inline in the test process; tests that need real workers start them as processes.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
# The run's own in-process cache (sign-in throttle counters): never shared with another run through the
# machine's Redis, and safe to clear between tests (tests/conftest.py). One test covers the Redis cache.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": f"tests-{_CHECKOUT}"}
}

# A second database of the other engine, "twin", for tests that run one computation on SQLite and on
# PostgreSQL and compare (tests/twin_database.py routes to it inside `twin_database.on("twin")`). Only
# tests that ask for it (`django_db(databases=[..., "twin"])` and the `twin_test_database` fixture,
# tests/conftest.py) create it, in the test process that runs them. None when PostgreSQL is down.
if DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":
    DATABASES["twin"] = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(VAR_DIR / "twin.sqlite3"),
        "TEST": {"NAME": str(VAR_DIR / f"test-twin-{_CHECKOUT}.sqlite3")},
    }
elif _reachable("127.0.0.1", 5432):
    DATABASES["twin"] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "portal",
        "USER": "postgres",
        "HOST": "127.0.0.1",
        "PORT": "5432",
        "TEST": {"NAME": f"test_portal_twin_{_CHECKOUT}"},
    }
DATABASE_ROUTERS = ["tests.twin_database.Router"]
