"""The one settings module: every knob comes from the environment (see the table in README.md).

Secrets have no production defaults: with ``DJANGO_DEBUG`` off, a missing ``SECRET_KEY`` fails fast.
The development defaults (``DJANGO_DEBUG=1``) are set by ``tools/services.py`` for ``make run``/``make test``.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)
TESTING = env.bool("MDR_TESTING", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured("SECRET_KEY must be set (DJANGO_DEBUG is off)")
    SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production"  # noqa: S105
# Production: neither debug nor a test run. Its defaults are the safe ones (https only, HSTS, encryption key needed).
PRODUCTION = not (DEBUG or TESTING)

# Keys (Fernet, urlsafe base64 of 32 bytes) encrypting secrets stored in the database (mdr/core/crypto.py); the first
# encrypts, all decrypt (rotation: put the new key first, then `manage.py encryption_rotate`; docs/security.md).
# Like SECRET_KEY, production refuses to start without it; debug and test runs derive one from SECRET_KEY.
MDR_ENCRYPTION_KEYS = env.list("MDR_ENCRYPTION_KEYS", default=[])
if not MDR_ENCRYPTION_KEYS and PRODUCTION:
    raise ImproperlyConfigured("MDR_ENCRYPTION_KEYS must be set (DJANGO_DEBUG is off)")

# Customers live at <slug>.<MDR_BASE_DOMAIN>; the provider console at MDR_BASE_DOMAIN itself.
MDR_BASE_DOMAIN = env.str("MDR_BASE_DOMAIN", default="localhost")
MDR_PUBLIC_URL_SCHEME = env.str("MDR_PUBLIC_URL_SCHEME", default="http")
MDR_PUBLIC_PORT = env.str("MDR_PUBLIC_PORT", default="8000")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[MDR_BASE_DOMAIN, f".{MDR_BASE_DOMAIN}"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# Apps in the public schema only: provider-wide data (see DESIGN.md §3).
SHARED_APPS = [
    "django_tenants",  # tenant routing, schema_context, clone_schema
    "tenants",  # Customer, Domain, API key digests: resolved before entering a customer schema
    "django.contrib.contenttypes",  # needed by auth in every schema
    "django.contrib.auth",  # provider staff live in public's auth tables
    "django.contrib.sessions",  # provider console sessions (host-only cookie, public table)
    "django.contrib.messages",  # stateless, no tables
    "django.contrib.staticfiles",  # stateless, no tables
    "rest_framework",  # stateless, no tables
    "drf_spectacular",  # stateless, no tables
    "drf_spectacular_sidecar",  # Swagger UI files served from here (no CDN), no tables
    "django_dramatiq",  # broker wiring; its task table is not used (no AdminMiddleware)
    "mdr.core",  # health checks, base templates, tenant-aware helpers; no tables
    "mdr.accounts",  # provider staff users (public) and customer users (each schema)
    "mdr.audit",  # audit of provider actions (public) and of customer data access (each schema)
    "mdr.console",  # provider console pages; no tables
    "mdr.jobs",  # outbox and failed jobs: ids and tenant only, read by the relay across customers
    "django_otp",  # second factor framework: provider staff's devices live in public
    "django_otp.plugins.otp_totp",  # TOTP devices of provider staff (public)
]

# Apps in every customer schema: everything about one customer's security data.
TENANT_APPS = [
    "django.contrib.contenttypes",  # content types per schema, needed by auth
    "django.contrib.auth",  # customer users live in their own schema: no login crosses customers
    "django.contrib.sessions",  # portal sessions stored in the customer's schema
    "mdr.accounts",  # customer users and roles
    "django_otp",  # second factor framework: a customer user's devices live with the user, in their schema
    "django_otp.plugins.otp_totp",  # TOTP devices of customer users (each schema)
    "mdr.audit",  # the customer's own audit trail, including provider staff access
    "mdr.alerts",  # the customer's alerts and ingest idempotency records
    "mdr.scope",  # contracts and scope
    "mdr.sla",  # SLA policies, timers and their history, stored calendars
    "mdr.incidents",  # incidents, correlation rules, timelines
    "mdr.escalations",  # contacts, escalation matrix, deliveries, acknowledgements
    "reports",  # the customer's monthly reports and their PDFs
    "mdr.portal",  # customer portal pages; no tables
]

INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Customer"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
# New customer schemas are cloned from this migrated template instead of running every migration.
TENANT_BASE_SCHEMA = env.str("MDR_TEMPLATE_SCHEMA", default="tenant_template")
TENANT_CREATION_FAKES_MIGRATIONS = env.bool("MDR_CLONE_FROM_TEMPLATE", default=True)
# How the template is copied: "replay" its SQL (pg_dump of the template, constant time per customer; falls back to
# clone where pg_dump is missing) or django-tenants' "clone" (slows as the catalog grows: docs/performance.md).
MDR_SCHEMA_COPY = env.str("MDR_SCHEMA_COPY", default="replay")
TENANT_LIMIT_SET_CALLS = True
TENANT_SUBPROCESS_PARALLEL = env.int("MDR_MIGRATE_PARALLEL", default=2)

MIDDLEWARE = [
    "mdr.core.middleware.TenantRoutingMiddleware",  # host -> schema (django-tenants), 503 if DB down
    "mdr.core.middleware.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "mdr.core.middleware.SecurityHeadersMiddleware",  # CSP (HSTS: SecurityMiddleware, DJANGO_HSTS_SECONDS)
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): the session passed the second factor
    "mdr.accounts.middleware.ProviderTotpMiddleware",  # provider staff sessions without a second factor end
    "mdr.core.middleware.UserLanguageMiddleware",  # a signed-in user's own language over Accept-Language
    "mdr.core.middleware.CustomerStatusMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# Benchmarks only: per-response query counters and the /bench/noop baseline view (mdr/core/instrument.py).
MDR_BENCH_INSTRUMENT = env.bool("MDR_BENCH_INSTRUMENT", default=False)
if MDR_BENCH_INSTRUMENT:
    MIDDLEWARE.insert(0, "mdr.core.instrument.InstrumentMiddleware")

ROOT_URLCONF = "mdr.urls_tenant"
PUBLIC_SCHEMA_URLCONF = "mdr.urls_public"
SHOW_PUBLIC_IF_NO_TENANT_FOUND = False

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
                "mdr.core.context_processors.tenant",
            ],
        },
    }
]

WSGI_APPLICATION = "mdr.wsgi.application"

DATABASES = {"default": env.db_url("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/mdr")}
DATABASES["default"]["ENGINE"] = "django_tenants.postgresql_backend"
# Direct connections or session pooling only: django-tenants cannot run behind transaction pooling.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int("DATABASE_CONNECT_TIMEOUT", default=5)
DATABASES["default"]["TEST"] = {"NAME": env.str("MDR_TEST_DATABASE_NAME", default="test_mdr")}
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")

CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        # Every cache key starts with the schema name (DESIGN.md §3).
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        "KEY_PREFIX": "mdr",
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
    }
}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["mdr.accounts.backends.TenantUserBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = env.list(
    "DJANGO_PASSWORD_HASHERS",
    default=[
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ],
)
LOGIN_URL = "login"
# Provider staff must pass a TOTP second factor (and enrol one at their first login); customer users may enrol one.
MDR_PROVIDER_TOTP_REQUIRED = env.bool("MDR_PROVIDER_TOTP_REQUIRED", default=True)
# Password reset requests per hour: per e-mail address (beyond it no mail, same answer) and per client IP (429).
MDR_PASSWORD_RESET_PER_HOUR_ADDRESS = env.int("MDR_PASSWORD_RESET_PER_HOUR_ADDRESS", default=3)
MDR_PASSWORD_RESET_PER_HOUR_IP = env.int("MDR_PASSWORD_RESET_PER_HOUR_IP", default=20)
# Sign-in lockout (mdr/accounts/lockout.py): failed passwords and codes per username and per client IP, per schema;
# at the limit attempts get a 429 until the count drains (fully over MDR_LOGIN_LOCKOUT_SECONDS).
MDR_LOGIN_MAX_FAILURES_USERNAME = env.int("MDR_LOGIN_MAX_FAILURES_USERNAME", default=5)
MDR_LOGIN_MAX_FAILURES_IP = env.int("MDR_LOGIN_MAX_FAILURES_IP", default=50)
MDR_LOGIN_LOCKOUT_SECONDS = env.int("MDR_LOGIN_LOCKOUT_SECONDS", default=900)
OTP_TOTP_ISSUER = env.str("MDR_TOTP_ISSUER", default="MDR")
# A code of the next time step is accepted (tolerance 1) but does not move the window for later logins.
OTP_TOTP_SYNC = False
# Password reset and staff set-password links stay valid this long (and die at once when used).
PASSWORD_RESET_TIMEOUT = 24 * 3600
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Sessions never cross domains: host-only cookies, and each schema has its own session table.
SESSION_COOKIE_DOMAIN = None
CSRF_COOKIE_DOMAIN = None
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_AGE = env.int("DJANGO_SESSION_AGE", default=8 * 3600)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Content Security Policy of every HTML page (mdr.core.middleware.SecurityHeadersMiddleware): our own scripts and
# styles only (no 'unsafe-inline', no CDN), no framing, forms post to ourselves.
MDR_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURE_REFERRER_POLICY = "same-origin"
# Production is https only: http is redirected (not /readyz, for load balancers' probes), HSTS for a year on every
# customer subdomain. Debug and test runs serve plain http. Behind a TLS-terminating proxy, trust its
# X-Forwarded-Proto (DJANGO_BEHIND_TLS_PROXY=1) so requests are seen as https.
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=PRODUCTION)
SECURE_REDIRECT_EXEMPT = [r"^readyz$"]
if env.bool("DJANGO_BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=365 * 24 * 3600 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=SECURE_HSTS_SECONDS > 0)

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ja", "日本語")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Static files straight from the app and project folders (no collectstatic): development, and the browser tests,
# which run the server without DEBUG so they see the production error pages and headers.
WHITENOISE_USE_FINDERS = env.bool("MDR_STATIC_FROM_FINDERS", default=DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MDR_DATA_DIR = Path(env.str("MDR_DATA_DIR", default=str(BASE_DIR / ".data")))
# Offboarding exports from the console (one directory per run, <slug>-<UTC timestamp>): a volume the operators back up.
MDR_EXPORT_DIR = Path(env.str("MDR_EXPORT_DIR", default=str(MDR_DATA_DIR / "exports")))

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default=f"soc@{MDR_BASE_DOMAIN}")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "mdr.accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "mdr.core.api.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "mdr.core.api.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "MDR backend API",
    "DESCRIPTION": "Alerts in, SLAs kept, CSIRTs notified. Provider API on the provider domain; "
    "customer API on <customer>.<base domain>.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from our own static files (the service works offline; the CSP allows only 'self').
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # Two different "kind" fields: name their enums apart instead of the generated hash names.
    "ENUM_NAME_OVERRIDES": {"ProposalKindEnum": "mdr.escalations.models.ProposalKind"},
}

# Dramatiq: Redis broker; the tenant middleware stamps and enters the schema of every message.
DRAMATIQ_NAMESPACE = env.str("MDR_DRAMATIQ_NAMESPACE", default="mdr")
DRAMATIQ_BROKER = {
    "BROKER": "dramatiq.brokers.redis.RedisBroker",
    "OPTIONS": {"url": REDIS_URL, "namespace": DRAMATIQ_NAMESPACE},
    "MIDDLEWARE": [
        "dramatiq.middleware.AgeLimit",
        "dramatiq.middleware.TimeLimit",
        "dramatiq.middleware.Callbacks",
        "dramatiq.middleware.Retries",
        "django_dramatiq.middleware.DbConnectionsMiddleware",
        "mdr.broker.TenantMiddleware",
    ],
}
DRAMATIQ_AUTODISCOVER_MODULES = ["tasks"]

MDR_SCHEDULER_INTERVAL_SECONDS = env.float("MDR_SCHEDULER_INTERVAL_SECONDS", default=5.0)

# Ingest limits (documented in README): beyond them a 413 names the limit.
MDR_INGEST_MAX_BODY_BYTES = env.int("MDR_INGEST_MAX_BODY_BYTES", default=10 * 1024 * 1024)
MDR_INGEST_MAX_ITEM_BYTES = env.int("MDR_INGEST_MAX_ITEM_BYTES", default=256 * 1024)
MDR_INGEST_MAX_ITEMS = env.int("MDR_INGEST_MAX_ITEMS", default=5000)
MDR_INGEST_MAX_DEPTH = env.int("MDR_INGEST_MAX_DEPTH", default=32)
MDR_INGEST_RATE_PER_SECOND = env.float("MDR_INGEST_RATE_PER_SECOND", default=50.0)
MDR_INGEST_BURST = env.int("MDR_INGEST_BURST", default=200)
MDR_IDEMPOTENCY_TTL_HOURS = env.int("MDR_IDEMPOTENCY_TTL_HOURS", default=24)
# On average one keyed request in this many also deletes the customer's expired idempotency records.
MDR_IDEMPOTENCY_PRUNE_EVERY = env.int("MDR_IDEMPOTENCY_PRUNE_EVERY", default=100)
# Outbox relay: re-send unsent work after this many seconds, and sent-but-unprocessed work after the second.
MDR_OUTBOX_RESEND_AFTER_SECONDS = env.int("MDR_OUTBOX_RESEND_AFTER_SECONDS", default=10)
MDR_OUTBOX_REDELIVER_AFTER_SECONDS = env.int("MDR_OUTBOX_REDELIVER_AFTER_SECONDS", default=600)
MDR_JOB_MAX_ATTEMPTS = env.int("MDR_JOB_MAX_ATTEMPTS", default=5)
# Outbound webhooks to private/loopback addresses are refused unless this is on (tests and closed networks only).
MDR_WEBHOOK_ALLOW_PRIVATE = env.bool("MDR_WEBHOOK_ALLOW_PRIVATE", default=False)
MDR_ACK_LINK_HOURS = env.int("MDR_ACK_LINK_HOURS", default=72)
# Escalation deliveries: attempts per notice, the first retry's delay (doubling, at most 15 minutes), and the lease
# after which a delivery whose message was lost is handed to a worker again.
MDR_DELIVERY_MAX_ATTEMPTS = env.int("MDR_DELIVERY_MAX_ATTEMPTS", default=5)
MDR_DELIVERY_BACKOFF_SECONDS = env.int("MDR_DELIVERY_BACKOFF_SECONDS", default=30)
MDR_DELIVERY_LEASE_SECONDS = env.int("MDR_DELIVERY_LEASE_SECONDS", default=60)
# A report publication whose message was lost (Redis down, the rendering worker killed) is handed over again after
# this lease (longer than a render: a doubled message finds the report locked and leaves it to the renderer).
MDR_REPORT_PUBLISH_LEASE_SECONDS = env.int("MDR_REPORT_PUBLISH_LEASE_SECONDS", default=900)
# Where the SOC is alerted when a customer's escalation ladder runs out without an acknowledgement.
MDR_SOC_ALERT_EMAIL = env.str("MDR_SOC_ALERT_EMAIL", default=DEFAULT_FROM_EMAIL)
# Account managers' SLA report: a customer below this overall compliance (or with a P1 breach) is "at risk".
MDR_SLA_AT_RISK_PCT = env.float("MDR_SLA_AT_RISK_PCT", default=95.0)
# Console customer list: health rows are recomputed this long after the first change (a burst costs one refresh),
# and an open SLA timer whose deadline is this close counts as "at risk".
MDR_HEALTH_REFRESH_DELAY_SECONDS = env.int("MDR_HEALTH_REFRESH_DELAY_SECONDS", default=30)
MDR_HEALTH_AT_RISK_MINUTES = env.int("MDR_HEALTH_AT_RISK_MINUTES", default=60)
# Provider branding on the monthly reports: name, logo (a file under static/ or a data: URI), primary colour.
MDR_REPORT_BRANDING = {
    "name": env.str("MDR_REPORT_BRAND_NAME", default="MDR Service"),
    "logo": env.str("MDR_REPORT_BRAND_LOGO", default=""),
    "color": env.str("MDR_REPORT_BRAND_COLOR", default="#1f4e79"),
}
# Reminders to the customer's admins before an escalation contact's valid-until date (days before; 0 = that day).
MDR_CONTACT_EXPIRY_REMINDER_DAYS = env.list("MDR_CONTACT_EXPIRY_REMINDER_DAYS", cast=int, default=[30, 7, 0])
# An unknown host or IP seen this many times in alerts becomes an open "inventory drift" item.
MDR_DRIFT_THRESHOLD = env.int("MDR_DRIFT_THRESHOLD", default=5)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
