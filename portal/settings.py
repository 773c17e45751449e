"""Settings for the MSK Serverless portal.

One module, driven by environment variables (every one is documented in `.env.example`).
The defaults run the whole portal on one machine with nothing installed but Python:
SQLite and a file-system Celery broker. Setting DATABASE_URL and REDIS_URL / CELERY_BROKER_URL
switches to the real services (the AWS settings arrive with the provisioning work).
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {value!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default) or default


def env_secret(name: str, default: str = "") -> str:
    """Read NAME_FILE (Docker/Kubernetes secrets) before NAME."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        return Path(file_path).read_text().strip()
    return os.environ.get(name, default) or default


VAR_DIR = Path(env_str("PORTAL_VAR_DIR", str(BASE_DIR / "var")))


def load_local_env(path: Path) -> None:
    """Defaults for this checkout from NAME=value lines (`make run` writes var/local.env: DEBUG on and a
    generated SECRET_KEY), so that every command run in the checkout works as under `make run`. The
    environment wins. Production has no such file, so it stays strict: DEBUG off, SECRET_KEY required."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip().isidentifier():
            raise ImproperlyConfigured(f"{path}, line {number}: expected NAME=value, got {line!r}")
        os.environ.setdefault(name.strip(), value.strip())


load_local_env(VAR_DIR / "local.env")

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_secret("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (see .env.example)")
    # Development only (DEBUG=true without var/local.env's key): a fixed key.
    SECRET_KEY = "dev-insecure-key-only-used-when-DEBUG-is-on-0123456789abcdefghij"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "portal",
    "clusters",
    "clusters.migration.apps.MigrationAssistantConfig",
    "billing",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "portal.security_headers.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "portal.htmx.SignInAgainMiddleware",  # after HtmxMiddleware: reads request.htmx
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.navigation",
            ],
        },
    },
    {
        # Only the partials rendered many times a page: list rows and filter bars (why: portal/jinja.py).
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {
            "environment": "portal.jinja.environment",
            "filters": {
                "usd": "billing.pricing.usd",
                "utc_minute": "clusters.templatetags.clusters_tags.utc_minute",
            },
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
DATABASE_URL = env_secret("DATABASE_URL", f"sqlite:///{VAR_DIR / 'portal.sqlite3'}")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60), conn_health_checks=True
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    if DATABASES["default"]["NAME"] not in ("", ":memory:"):
        # A fresh checkout has no var/ yet; SQLite creates the file but not its folder.
        Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Web, worker and beat share one SQLite file under `make run`. WAL lets readers work while one
    # connection writes. Every transaction takes the write lock when it begins (BEGIN IMMEDIATE): a
    # transaction that read first and then wrote would fail at once with "database is locked" when another
    # writer got in between, whereas taking the lock up front queues it behind the other writer, for up to
    # the busy timeout. A task that still meets a lock is retried (portal.celery.PortalTask).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        timeout=20, transaction_mode="IMMEDIATE", init_command="PRAGMA journal_mode=WAL"
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "portal.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "portal:dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Security (secure by default; check --deploy passes with DEBUG off) -----------------------------
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Sent on every page and API answer (portal/security_headers.py). No inline script, no eval.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# /healthz is probed over plain HTTP by load balancers and container healthchecks.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Password sign-in throttling (portal/login_throttle.py): this many wrong passwords for one account, or
# from one address, within LOGIN_LOCKOUT_SECONDS pause sign-in there for LOGIN_LOCKOUT_SECONDS.
LOGIN_FAILURES_PER_ACCOUNT = env_int("LOGIN_FAILURES_PER_ACCOUNT", 5)
LOGIN_FAILURES_PER_ADDRESS = env_int("LOGIN_FAILURES_PER_ADDRESS", 20)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 300)
# Proxies in front of the portal that append the client's address to X-Forwarded-For (0: none, use the
# connection's address). Only count proxies you run: the client writes the rest of that header.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

# --- Email (console in development) -----------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# Folder of django.core.mail.backends.filebased.EmailBackend (one file per sending connection).
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "msk-portal@localhost")

# Absolute address of the portal, for links in emails (no trailing slash).
PORTAL_BASE_URL = env_str("PORTAL_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
# Optional Slack incoming webhook for request notifications.
SLACK_WEBHOOK_URL = env_secret("SLACK_WEBHOOK_URL")

# --- Celery ---------------------------------------------------------------------------------------
REDIS_URL = env_secret("REDIS_URL")
CELERY_BROKER_URL = env_secret("CELERY_BROKER_URL") or REDIS_URL or "filesystem://"
CELERY_BROKER_FOLDER = Path(env_str("CELERY_BROKER_FOLDER", str(VAR_DIR / "broker")))
# Redis broker options (also used by tests that start their own Redis).
REDIS_BROKER_TRANSPORT_OPTIONS = {
    # Re-deliver a task whose worker died before acknowledging it (acks_late) after this long.
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
    # A web request that publishes while Redis is down gives up after ~1 s instead of blocking: the
    # state is already in the database, and beat re-dispatches lost provisioning work and notifications.
    # (These apply to connecting for a publish; the worker's consumer reconnects on its own schedule.)
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 0.5,
    "socket_connect_timeout": 2,
}
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    # No broker server needed: producers and consumers exchange messages as files in one folder
    # (kombu's transport, except that a message file is complete before the worker can see it).
    CELERY_BROKER_TRANSPORT = "portal.broker:FileSystemTransport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_FOLDER / "queue"),
        "data_folder_out": str(CELERY_BROKER_FOLDER / "queue"),
        "control_folder": str(CELERY_BROKER_FOLDER / "control"),
        "store_processed": False,
        # How long a worker waits before looking at the folder again when it found nothing it may take.
        # With prefetch 1 it finds nothing after every message it takes: kombu's 1 s default capped a
        # worker at about one task per second per process, whatever the task.
        "polling_interval": 0.1,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = dict(REDIS_BROKER_TRANSPORT_OPTIONS)
if CELERY_BROKER_URL.startswith("redis://"):
    # Kombu's Redis transport, except that a worker survives losing Redis mid-task (see portal/broker.py).
    # (rediss:// keeps kombu's own transport: its TLS defaults depend on the scheme name.)
    CELERY_BROKER_TRANSPORT = "portal.broker:Transport"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Workers and beat outlive any broker outage: they retry the connection for ever (kombu backs off 2, 4, 6 …
# up to 30 s between attempts). Celery's default of 100 attempts would end a worker after ~45 minutes.
# Publishing from web requests is bounded by the transport options above, not by this.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Queue name: lets several portals (or test runs) share one Redis without taking each other's tasks.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "celery")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 300)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 360)
CELERY_BEAT_SCHEDULE_FILENAME = env_str("CELERY_BEAT_SCHEDULE_FILENAME", str(VAR_DIR / "celerybeat-schedule"))
HEARTBEAT_INTERVAL_SECONDS = env_int("HEARTBEAT_INTERVAL_SECONDS", 30)
RECONCILE_INTERVAL_SECONDS = env_int("RECONCILE_INTERVAL_SECONDS", 15)
# How often beat compares every live cluster with MSK to flag drift. Default 10 minutes.
DRIFT_INTERVAL_SECONDS = env_int("DRIFT_INTERVAL_SECONDS", 600)
# Provisioning work still in its first state after this long is dispatched again (its task was lost).
PROVISIONING_REDISPATCH_SECONDS = env_int("PROVISIONING_REDISPATCH_SECONDS", 120)
# Billing: the daily usage collection + month-to-date chargeback runs at HH:15 UTC; during the first
# BILLING_CLOSE_DAYS days of a month the previous month is collected and recomputed again (month close).
BILLING_HOUR_UTC = env_int("BILLING_HOUR_UTC", 2)
BILLING_CLOSE_DAYS = env_int("BILLING_CLOSE_DAYS", 3)
# Notifications whose task was lost (broker down) are sent again by beat once their event is older than
# PROVISIONING_REDISPATCH_SECONDS, but not when it is older than this: an old database does not mail
# everyone about last month's requests. Default 2 days.
NOTIFICATION_RESEND_MAX_AGE_SECONDS = env_int("NOTIFICATION_RESEND_MAX_AGE_SECONDS", 2 * 24 * 3600)
# Observability (issue 14): every OBSERVABILITY_INTERVAL_SECONDS beat collects the last
# OBSERVABILITY_WINDOW_MINUTES of 5-minute points per account and region and evaluates the alert rules;
# 5-minute points are kept OBSERVABILITY_FINE_DAYS, hourly ones OBSERVABILITY_COARSE_DAYS.
OBSERVABILITY_INTERVAL_SECONDS = env_int("OBSERVABILITY_INTERVAL_SECONDS", 300)
OBSERVABILITY_WINDOW_MINUTES = env_int("OBSERVABILITY_WINDOW_MINUTES", 20)
OBSERVABILITY_FINE_DAYS = env_int("OBSERVABILITY_FINE_DAYS", 2)
OBSERVABILITY_COARSE_DAYS = env_int("OBSERVABILITY_COARSE_DAYS", 60)
# Migration assistant: beat re-reads every monolith the portal has read from the cluster before (the
# throughput estimate needs readings some time apart; the page lists what changed). Default one hour.
MIGRATION_INVENTORY_INTERVAL_SECONDS = env_int("MIGRATION_INVENTORY_INTERVAL_SECONDS", 3600)
# An MSK monolith's throughput is read from CloudWatch: the highest 5-minute average over the hours before
# each reading (at most 1512: 5-minute data is kept 63 days). Default one day.
MIGRATION_MSK_METRICS_HOURS = env_int("MIGRATION_MSK_METRICS_HOURS", 24)
CELERY_BEAT_SCHEDULE = {
    "portal-heartbeat": {
        "task": "portal.tasks.record_heartbeat",
        "schedule": float(HEARTBEAT_INTERVAL_SECONDS),
    },
    "clusters-reconcile": {
        "task": "clusters.tasks.reconcile",
        "schedule": float(RECONCILE_INTERVAL_SECONDS),
    },
    # Once per re-dispatch window: a lost notification is enqueued again at most that often.
    "clusters-resend-notifications": {
        "task": "clusters.tasks.resend_lost_notifications",
        "schedule": float(PROVISIONING_REDISPATCH_SECONDS),
    },
    # Migration replications still being created by AWS are reconciled (and lost starts resumed) this often.
    "migration-resume-replications": {
        "task": "clusters.migration.tasks.resume_replications",
        "schedule": float(PROVISIONING_REDISPATCH_SECONDS),
    },
    # Filings from a plan queued or running with no progress for the re-dispatch window are run again.
    "migration-requeue-lost-filings": {
        "task": "clusters.migration.tasks.requeue_lost_filings",
        "schedule": float(PROVISIONING_REDISPATCH_SECONDS),
    },
    # Teams that opted in to a plan's next stages: a filing is started where items became ready to file.
    "migration-file-next-stages": {
        "task": "clusters.migration.tasks.file_next_stages",
        "schedule": float(PROVISIONING_REDISPATCH_SECONDS),
    },
    "migration-read-inventories": {
        "task": "clusters.migration.tasks.read_inventories",
        "schedule": float(MIGRATION_INVENTORY_INTERVAL_SECONDS),
    },
    "clusters-drift": {
        "task": "clusters.tasks.detect_drift",
        "schedule": float(DRIFT_INTERVAL_SECONDS),
    },
    "observability-collect": {
        "task": "clusters.observability.tasks.collect_all",
        "schedule": float(OBSERVABILITY_INTERVAL_SECONDS),
    },
    "observability-downsample": {
        "task": "clusters.observability.tasks.downsample",
        "schedule": crontab(minute=40),
    },
    "billing-daily": {
        "task": "billing.tasks.collect_and_compute",
        "schedule": crontab(hour=BILLING_HOUR_UTC, minute=15),
    },
    # Idempotency keys older than IDEMPOTENCY_RETENTION_HOURS are deleted once a day.
    "requests-forget-idempotency-keys": {
        "task": "clusters.requests.tasks.forget_old_idempotency_keys",
        "schedule": crontab(hour=4, minute=30),
    },
}
# Sent once when beat starts (a schedule counts its first interval from the start): the heartbeat, so
# /healthz reports a running worker at once, the drift check, so admins see drift from the start, and the
# metrics collection, so pages show throughput and lag from the start.
BEAT_RUN_AT_START = ["portal-heartbeat", "clusters-drift", "observability-collect"]

# --- Cache (sign-in throttle counters) --------------------------------------------------------------
# Shared by every web process: Redis when REDIS_URL is set (short timeouts: a Redis outage must not
# hang sign-in), files under var/cache otherwise.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # Deployments sharing one Redis have their own queues; their cache keys follow suit.
            "KEY_PREFIX": f"msk-portal-{CELERY_TASK_DEFAULT_QUEUE}",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- MSK provider -----------------------------------------------------------------------------------
# local: a simulated MSK needing no AWS account (the default); aws: the real thing (boto3 + Kafka admin).
MSK_PROVIDER = env_str("MSK_PROVIDER", "local")
if MSK_PROVIDER not in {"local", "aws"}:
    raise ImproperlyConfigured(f"MSK_PROVIDER must be local or aws, got {MSK_PROVIDER!r}")
if MSK_PROVIDER == "local":
    # The simulator's tables exist only where it runs: a production schema (aws) has none of them.
    INSTALLED_APPS.append("clusters.providers.local.apps.LocalMskConfig")
# Local provider: how long a simulated cluster stays CREATING before it turns ACTIVE.
LOCAL_MSK_CREATE_SECONDS = env_int("LOCAL_MSK_CREATE_SECONDS", 20)
# Real AWS: endpoint override (e.g. a local moto server) and timeouts for every boto3 call.
AWS_ENDPOINT_URL = env_str("AWS_ENDPOINT_URL")
AWS_CONNECT_TIMEOUT_SECONDS = env_int("AWS_CONNECT_TIMEOUT_SECONDS", 5)
AWS_READ_TIMEOUT_SECONDS = env_int("AWS_READ_TIMEOUT_SECONDS", 20)
AWS_MAX_ATTEMPTS = env_int("AWS_MAX_ATTEMPTS", 5)
# Topics (Kafka admin over TLS): the CA bundle that verifies the brokers' certificates (librdkafka's
# ssl.ca.location). Empty: librdkafka probes the usual system bundle paths, which covers MSK's public CAs.
KAFKA_SSL_CA_LOCATION = env_str("KAFKA_SSL_CA_LOCATION")

# --- REST API -------------------------------------------------------------------------------------
# A create (or bulk decision) repeated with the same Idempotency-Key while the first attempt still runs
# waits this long for its answer, then gets 409 with Retry-After.
IDEMPOTENCY_WAIT_SECONDS = env_int("IDEMPOTENCY_WAIT_SECONDS", 10)
# A key (and the answer it replays) is kept this long after its first attempt, then forgotten by beat's
# daily clean-up: the same key afterwards files a new request. Default 24 hours.
IDEMPOTENCY_RETENTION_HOURS = env_int("IDEMPOTENCY_RETENTION_HOURS", 24)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "portal.api.pagination.PortalPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["portal.api.parsers.PortalJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "portal.api.schema.PortalAutoSchema",
    "EXCEPTION_HANDLER": "portal.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "MSK Serverless portal API",
    "DESCRIPTION": "Self-service Kafka on Amazon MSK Serverless: teams, requests, clusters and chargeback.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "portal.models.User.Role",
        "RequestKindEnum": "clusters.models.RequestKind",
        "RequestStatusEnum": "clusters.models.Request.Status",
        "ClusterKindEnum": "clusters.models.Cluster.Kind",
        "ClusterStatusEnum": "clusters.models.Cluster.Status",
    },
}

# --- Single sign-on (OpenID Connect), off unless OIDC_RP_CLIENT_ID is set ------------------------------
OIDC_ENABLED = bool(env_str("OIDC_RP_CLIENT_ID"))
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
if OIDC_ENABLED:
    INSTALLED_APPS.append("mozilla_django_oidc")
    AUTHENTICATION_BACKENDS.insert(0, "portal.oidc.PortalOIDCBackend")
    OIDC_RP_CLIENT_ID = env_str("OIDC_RP_CLIENT_ID")
    OIDC_RP_CLIENT_SECRET = env_secret("OIDC_RP_CLIENT_SECRET")
    OIDC_RP_SIGN_ALGO = env_str("OIDC_RP_SIGN_ALGO", "RS256")
    OIDC_OP_AUTHORIZATION_ENDPOINT = env_str("OIDC_OP_AUTHORIZATION_ENDPOINT")
    OIDC_OP_TOKEN_ENDPOINT = env_str("OIDC_OP_TOKEN_ENDPOINT")
    OIDC_OP_USER_ENDPOINT = env_str("OIDC_OP_USER_ENDPOINT")
    OIDC_OP_JWKS_ENDPOINT = env_str("OIDC_OP_JWKS_ENDPOINT")
    OIDC_RP_SCOPES = env_str("OIDC_RP_SCOPES", "openid email profile groups")
    required = ["OIDC_OP_AUTHORIZATION_ENDPOINT", "OIDC_OP_TOKEN_ENDPOINT", "OIDC_OP_USER_ENDPOINT"]
    if OIDC_RP_SIGN_ALGO.startswith("RS"):
        required.append("OIDC_OP_JWKS_ENDPOINT")  # RS256 tokens are verified against the provider's keys
    missing = [name for name in required if not globals()[name]]
    if missing:
        raise ImproperlyConfigured(f"OIDC_RP_CLIENT_ID is set but {', '.join(missing)} is missing")
OIDC_GROUPS_CLAIM = env_str("OIDC_GROUPS_CLAIM", "groups")
OIDC_ADMIN_GROUPS = env_list("OIDC_ADMIN_GROUPS", ["msk-platform-admins"])
OIDC_FINANCE_GROUPS = env_list("OIDC_FINANCE_GROUPS", ["msk-finance"])
# An identity-provider group named "<prefix><team-slug>" makes the user a member of that team.
OIDC_TEAM_GROUP_PREFIX = env_str("OIDC_TEAM_GROUP_PREFIX", "msk-team-")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"one_line_refusals": {"()": "portal.log_filters.OneLineRefusals"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # Our handler only: Django's own console handler (DEBUG on) printed every django.* line twice.
        "django": {"level": "INFO"},
        "django.db.backends": {"level": "INFO"},
        # Django logs every 4xx/5xx answer here; a 403 (an expected refusal) becomes one line.
        "django.request": {"filters": ["one_line_refusals"]},
    },
}
