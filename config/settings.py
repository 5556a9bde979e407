"""One settings module, driven by the environment (see README)."""

import datetime
import os
import re
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be True or False, got {value!r}")


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-dev-key-only-for-local-debug-runs"

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h.strip()]
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = SECURE_SSL_REDIRECT
CSRF_COOKIE_SECURE = SECURE_SSL_REDIRECT

# Keys for personal data. Default derives from SECRET_KEY so a dev run works;
# production sets them explicitly so rotating SECRET_KEY does not orphan data.
PII_HASH_KEY = os.environ.get("PII_HASH_KEY", "pii-hash:" + SECRET_KEY)
PII_ENCRYPTION_KEY = os.environ.get("PII_ENCRYPTION_KEY", "pii-enc:" + SECRET_KEY)
PII_KEYS_FROM_SECRET_KEY = not (os.environ.get("PII_HASH_KEY") and os.environ.get("PII_ENCRYPTION_KEY"))  # check --deploy warns
# While rotating (README, "Running in production"): the former encryption keys, comma-separated.
PII_ENCRYPTION_KEY_FALLBACKS = [key for key in os.environ.get("PII_ENCRYPTION_KEY_FALLBACKS", "").split(",") if key]

INSTALLED_APPS = [
    "config.apps.AuditedAdminConfig",  # django.contrib.admin, its site config/admin_site.py
    # Before django.contrib.auth, whose commands it replaces (the first app's command wins).
    "accounts.console",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "axes",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "viewflow",
    "viewflow.workflow",
    "claims",
    "workflow",
    "approvals",
    "payments",
    "notifications",
    "audit",
    "accounts",
    "api",
    "auditor",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Pages and files compressed for browsers that ask (gunicorn serves them, no proxy before it):
    # a claim of 2,000 lines is an 8 MB page, 0.15 MB compressed. After WhiteNoise, which answers
    # static files itself (compressed ahead, and ranges, which this must not compress); before every
    # middleware that writes the body. Django's "Heal the Breach" padding blunts BREACH. Files
    # already compressed (xlsx, zip, PDF, images) go out as they are.
    "config.middleware.GZipTextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "config.middleware.ChineseFirstLocaleMiddleware",
    "config.middleware.RefuseBadCharactersInUrlMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Nothing answered to a signed-in user is cached (its docstring says why it sits here).
    "config.middleware.NoStoreWhenSignedInMiddleware",
    "audit.middleware.DeniedAccessMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "accounts.sessions.SessionPolicyMiddleware",
    # Last, as django-axes asks: it turns a login refused for lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

# The apps' access modules (who may do what), asked by the API's permissions and the menu.
ACCESS_MODULES = ["claims.access", "payments.access", "auditor.access"]

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
                "django.template.context_processors.i18n",
                "config.context_processors.capabilities",
                "config.context_processors.notifications",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        # Persistent connections (a new PostgreSQL connection per request cost more than the
        # inbox's query); checked before reuse, so a restarted server is not an error.
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend, plus the flush that lets the ledger's appends share disk syncs (its docstring).
    DATABASES["default"]["ENGINE"] = "audit.postgresql"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several requests write at once (two reviewers, the dev server's threads):
    # wait for SQLite's write lock instead of failing at once.
    # BEGIN IMMEDIATE: writers queue for the lock at the start of a transaction
    # instead of failing on upgrade, so two reviewers clicking at once get a clean 409.
    DATABASES["default"].setdefault("OPTIONS", {}).update(timeout=20, transaction_mode="IMMEDIATE")
    # The inbox's covering indexes (INCLUDE) are PostgreSQL's speed-up; SQLite uses their keys alone.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    # First: refuses any login (page, API token, re-authentication) while the account or address is locked out.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# No guardian anonymous user: anonymous requests see nothing.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False

# Every place a password is set (admin, seed_demo, ensure_staff_user, changepassword, createsuperuser,
# --noinput too: accounts.console) runs these.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sign-in security (README, "Accounts and sign-in"). Login throttling: django-axes, its database
# handler (attempts in PostgreSQL, shared by every web process; listed and reset in the admin or
# with `manage.py axes_reset`). An account, and separately an address, is locked out after
# LOGIN_FAILURE_LIMIT failures, for LOGIN_LOCKOUT_MINUTES after the last counted one; attempts
# made while locked out are refused without being counted, so they neither extend the lockout
# nor grow the attempts table.
LOGIN_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "10"))
LOGIN_LOCKOUT_MINUTES = int(os.environ.get("LOGIN_LOCKOUT_MINUTES", "30"))
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = datetime.timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one locks: per account and per address
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = False  # else a login to one's own account would clear the address's failures
AXES_LOCKOUT_CALLABLE = "accounts.lockout.locked_out_page"
AXES_CLIENT_IP_CALLABLE = "accounts.lockout.client_address"  # the address the ledger records
AXES_USERNAME_CALLABLE = "accounts.lockout.attempted_username"  # the account the login names, whichever door
AXES_ENABLE_ACCESS_FAILURE_LOG = False
AXES_DISABLE_ACCESS_LOG = True  # the ledger records logins and logouts
AXES_VERBOSE = False
# The client's address (the ledger's and the lockout's, audit/access.py) is REMOTE_ADDR; behind
# proxies that append to X-Forwarded-For, TRUSTED_PROXY_COUNT says how many, and the address is
# the one they received the request from (else every client would share the proxy's lockout).
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))
# Objections to a public notice (公示, workflow/notice.py) are filed without signing in: at most
# this many per client address (the address above) per hour; beyond, 429.
OBJECTION_RATE_LIMIT = int(os.environ.get("OBJECTION_RATE_LIMIT", "5"))

# Sessions (ASVS level 2): signed out after SESSION_IDLE_MINUTES without a request and
# SESSION_ABSOLUTE_HOURS after the login whatever the activity (accounts/sessions.py); the key
# is rotated at login (Django); every session of a user ends when the user is disabled or the
# password changes (accounts/signals.py). The cookie ends with the browser.
SESSION_IDLE_MINUTES = int(os.environ.get("SESSION_IDLE_MINUTES", "30"))
SESSION_ABSOLUTE_HOURS = int(os.environ.get("SESSION_ABSOLUTE_HOURS", "12"))
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_HOURS * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_ENGINE = "accounts.sessions"  # Django's database sessions, every key of a signed-in one kept as its user's
# API tokens: expire API_TOKEN_HOURS after issue; a login issues a new one (the old one stops
# working); revoked on password change and deactivation, and by their owner.
API_TOKEN_HOURS = int(os.environ.get("API_TOKEN_HOURS", "12"))
# Re-authentication: releasing a payment batch and exporting the ledger need the password
# entered within the last REAUTH_MINUTES (the login, or the password given again).
REAUTH_MINUTES = int(os.environ.get("REAUTH_MINUTES", "5"))
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "approvals:inbox"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = BASE_DIR / "media"

REST_FRAMEWORK = {
    # Moments in local time however a view puts them in its answer (api/renderers.py).
    "DEFAULT_RENDERER_CLASSES": ["api.renderers.JSONRenderer", "rest_framework.renderers.BrowsableAPIRenderer"],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.tokens.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # DRF's page numbers, a page that is no page refused with a 400 naming `page` (api/pagination.py).
    "DEFAULT_PAGINATION_CLASS": "api.pagination.Pagination",
    "PAGE_SIZE": 50,
    # drf-spectacular's, listing the errors any operation may answer (api/schema.py).
    "DEFAULT_SCHEMA_CLASS": "api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "api.errors.json_error_handler",
    # DRF's parsers, refusing NUL bytes and deep nesting with a 400 naming the field (api/parsers.py).
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONParser", "api.parsers.FormParser", "api.parsers.MultiPartParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Skills subsidy claims API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    # Public (API v1): the schema and its docs look at no credentials, so a stale token is no 401.
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One name for the channel a person chooses per kind of notification (every kind's field).
    "ENUM_NAME_OVERRIDES": {
        "NotificationChannelEnum": "notifications.models.Channel",
        "ObjectionStatusEnum": "workflow.models.ObjectionStatus",
    },
    # Our paths' ids (config/converters.py): whole numbers a bigint column holds.
    "PATH_CONVERTER_OVERRIDES": {"id": {"type": "integer", "format": "int64", "minimum": 0}},
}

# Celery: Redis when REDIS_URL is set, otherwise tasks run eagerly in-process.
REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "claims")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A silent broker (its host gone, a hung server or a half-open connection) is given up on like a
# refused one: without these a publish in a request's on_commit waited forever after the change
# had committed (due/enqueue.py; tests/test_silent_broker.py). Above the worker's BRPOP (1 s).
BROKER_TIMEOUT = float(os.environ.get("BROKER_TIMEOUT", "2"))  # seconds
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": BROKER_TIMEOUT, "socket_timeout": BROKER_TIMEOUT}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}

# Audit ledger checkpoints (see README, "Audit ledger"): the log's origin line, the Ed25519
# signing key (base64 of the 32-byte seed, or a file holding it; `seed_demo` writes a demo
# key file), and optionally a verifier key ("<name>+<key id>+<base64>") to check with.
AUDIT_LOG_ORIGIN = os.environ.get("AUDIT_LOG_ORIGIN", "claims.invalid/audit")
AUDIT_SIGNING_KEY_NAME = os.environ.get("AUDIT_SIGNING_KEY_NAME", "") or AUDIT_LOG_ORIGIN
AUDIT_SIGNING_KEY = os.environ.get("AUDIT_SIGNING_KEY", "")
AUDIT_SIGNING_KEY_FILE = Path(os.environ.get("AUDIT_SIGNING_KEY_FILE", "") or BASE_DIR / "var" / "audit_signing.key")
AUDIT_VERIFIER_KEY = os.environ.get("AUDIT_VERIFIER_KEY", "")
# After a rotation of the signing key: the former verifier keys, comma-separated (README).
AUDIT_RETIRED_VERIFIER_KEYS = [key for key in os.environ.get("AUDIT_RETIRED_VERIFIER_KEYS", "").split(",") if key.strip()]
AUDIT_CHECKPOINT_INTERVAL = int(os.environ.get("AUDIT_CHECKPOINT_INTERVAL", "600"))  # seconds
# Due jobs (timers and sweeps, due/registry.py): how often beat runs them.
DUE_JOBS_INTERVAL = int(os.environ.get("DUE_JOBS_INTERVAL", "60"))  # seconds
# `celery -A config beat` sends these; a worker runs them.
CELERY_BEAT_SCHEDULE = {
    "audit-checkpoint": {"task": "audit.tasks.sign_checkpoint", "schedule": AUDIT_CHECKPOINT_INTERVAL},
    # Every timer and sweep of the due-job registry (due/registry.py), as `manage.py run_due` runs them.
    "due-jobs": {"task": "workflow.tasks.run_due_jobs", "schedule": DUE_JOBS_INTERVAL},
}

# Uploaded spreadsheets (rosters, bank results): read through claims/spreadsheets.py, which
# refuses a file over these before parsing it (a zip bomb, a sheet of millions of blank rows or
# cells, a styles part of millions of entries).
SPREADSHEET_MAX_UNPACKED_BYTES = int(os.environ.get("SPREADSHEET_MAX_UNPACKED_BYTES", str(100 * 1024 * 1024)))
SPREADSHEET_MAX_MEMBER_BYTES = int(os.environ.get("SPREADSHEET_MAX_MEMBER_BYTES", str(50 * 1024 * 1024)))
SPREADSHEET_MAX_RATIO = int(os.environ.get("SPREADSHEET_MAX_RATIO", "100"))  # uncompressed / compressed, per part
SPREADSHEET_MAX_MEMBERS = int(os.environ.get("SPREADSHEET_MAX_MEMBERS", "200"))
SPREADSHEET_MAX_COLUMNS = int(os.environ.get("SPREADSHEET_MAX_COLUMNS", "100"))
SPREADSHEET_MAX_ROWS = int(os.environ.get("SPREADSHEET_MAX_ROWS", "100000"))  # a bank result; rosters have their own

# The lines of one claim: a roster's rows at most (claims.roster). A page posts a few fields a line
# (a reviewer's decision: a choice, a reason and a "fix" box), and Django refuses a request of more
# than DATA_UPLOAD_MAX_NUMBER_FIELDS fields (1,000 unless set): deciding a claim of 500 lines on its
# page, or saving the form of one of 53 (19 fields a line), was a 400 page. The claim form takes at
# most approvals.forms.FORM_LINES_MAX lines.
CLAIM_LINES_MAX = 20_000
DATA_UPLOAD_MAX_NUMBER_FIELDS = 3 * CLAIM_LINES_MAX + 1_000
SPREADSHEET_MAX_CELLS = int(
    os.environ.get("SPREADSHEET_MAX_CELLS", "2000000")
)  # rows and cells of all sheets; shared strings apart
# XML elements of all the parts besides rows and shared strings (styles, the workbook, relationships: built whole).
SPREADSHEET_MAX_ELEMENTS = int(os.environ.get("SPREADSHEET_MAX_ELEMENTS", "200000"))
SPREADSHEET_MAX_LISTED_ERRORS = int(os.environ.get("SPREADSHEET_MAX_LISTED_ERRORS", "200"))  # then only counted

# Documents attached to claims (claims/attachments.py): kept on disk under random names, outside
# the database and outside any served directory (never under STATIC_ROOT or MEDIA_ROOT), and
# handed out only by the scoped download views. PDF, PNG and JPEG, recognised by their bytes.
ATTACHMENTS_DIR = Path(os.environ.get("ATTACHMENTS_DIR", "") or BASE_DIR / "var" / "attachments")
ATTACHMENT_MAX_BYTES = int(os.environ.get("ATTACHMENT_MAX_BYTES", str(10 * 1024 * 1024)))
ATTACHMENTS_MAX_PER_CLAIM = int(os.environ.get("ATTACHMENTS_MAX_PER_CLAIM", "200"))

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "noreply@claims.invalid")
# Notification e-mails: the site's address for their links, and the domain of their Message-ID
# (<idempotency key@domain>, so a message sent twice would carry one Message-ID).
# Unset: e-mails carry no link (a path alone is nothing a mail client can open).
NOTIFICATION_SITE_URL = os.environ.get("NOTIFICATION_SITE_URL", "").rstrip("/")
if NOTIFICATION_SITE_URL and not re.fullmatch(r"https?://[^/\s?#]+(/[^\s?#]*)?", NOTIFICATION_SITE_URL):
    raise ImproperlyConfigured(
        f"NOTIFICATION_SITE_URL must be the site's absolute address, like 'https://claims.example.gov.cn', got {NOTIFICATION_SITE_URL!r}"
    )
NOTIFICATION_MESSAGE_ID_DOMAIN = os.environ.get("NOTIFICATION_MESSAGE_ID_DOMAIN", "claims.invalid")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # django-axes logs every attempt at INFO (masked); its warnings (failures, lockouts) are enough.
        "axes": {"level": "WARNING"},
    },
}


# --------------------------------------------------------------------------- production hardening
# Headers, the proxy, the admin's path (README, "Running in production"). Kept in one block,
# applied to the lists above rather than edited into them.

# Rotating SECRET_KEY: the old key(s) here keep sessions and reset links valid meanwhile (README).
SECRET_KEY_FALLBACKS = [key for key in os.environ.get("SECRET_KEY_FALLBACKS", "").split(",") if key]

# X-Forwarded-Proto is trusted only when a proxy in front sets it (and drops the client's own):
# without one, any client could send "https" and skip the redirect to https.
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# HSTS (sent only on https responses): browsers then refuse plain http for a year.
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
# "preload" in the header only consents; a domain is preloaded when someone submits it.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SESSION_COOKIE_HTTPONLY = True
# The CSRF cookie stays readable: Swagger UI sends it back as the X-CSRFToken header.
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# The admin site's path: not the well-known "admin/" that every scanner tries.
ADMIN_URL = os.environ.get("ADMIN_URL", "site-admin/")
if not re.fullmatch(r"[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*/", ADMIN_URL):
    raise ImproperlyConfigured(f"ADMIN_URL must be a relative path ending in '/', like 'office-7f3a/', got {ADMIN_URL!r}")

# Content-Security-Policy (django-csp): scripts and styles only from our own static files,
# so an injected <script> or on*="" attribute does not run. No inline script or style anywhere.
INSTALLED_APPS += ["csp"]
MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "csp.middleware.CSPMiddleware")
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
