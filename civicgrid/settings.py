"""civicgrid settings: one file, every value from the environment (see README "Configuration")."""

import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from civicgrid.env import env_bool, env_int, env_list, env_str, parse_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("CIVICGRID_VAR_DIR", str(BASE_DIR / "var"))).resolve()

CIVICGRID_ENV = env_str("CIVICGRID_ENV", "development")
if CIVICGRID_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(
        f"CIVICGRID_ENV: expected development or production, got {CIVICGRID_ENV!r}"
    )
PRODUCTION = CIVICGRID_ENV == "production"


def _local_secret(env_name: str, filename: str, make) -> str:
    """A secret from the environment; in development, generated once into var/ if unset."""
    value = env_str(env_name)
    if value:
        return value
    if PRODUCTION:
        raise ImproperlyConfigured(f"{env_name}: required when CIVICGRID_ENV=production")
    path = VAR_DIR / filename
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def _fernet_key() -> str:
    import base64

    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


SECRET_KEY = _local_secret("CIVICGRID_SECRET_KEY", "secret_key", lambda: secrets.token_urlsafe(50))
# Personal data (ID numbers, phones, second-factor secrets) is encrypted with Fernet keys:
# CIVICGRID_PII_KEYS=new,old,… (the first encrypts, every one decrypts; `civicgrid
# rotate_pii_key` re-encrypts everything under the first, then the others can go). Without
# it, CIVICGRID_PII_KEY (+ CIVICGRID_PII_OLD_KEYS) as before. The search index (keyed hashes)
# has a key of its own that never rotates: CIVICGRID_PII_INDEX_KEY, by default
# CIVICGRID_PII_KEY — the key the index was made with before keys came in a list.
_PII_KEYS = env_list("CIVICGRID_PII_KEYS", [])
if _PII_KEYS:
    PII_KEY, PII_OLD_KEYS = _PII_KEYS[0], _PII_KEYS[1:]
    PII_INDEX_KEY = env_str("CIVICGRID_PII_INDEX_KEY")
    if not PII_INDEX_KEY and (env_str("CIVICGRID_PII_KEY") or not PRODUCTION):
        PII_INDEX_KEY = _local_secret("CIVICGRID_PII_KEY", "pii_key", _fernet_key)
    if not PII_INDEX_KEY:
        raise ImproperlyConfigured(
            "CIVICGRID_PII_INDEX_KEY: required with CIVICGRID_PII_KEYS (the key of the search "
            "index: the CIVICGRID_PII_KEY it was made with)"
        )
else:
    PII_KEY = _local_secret("CIVICGRID_PII_KEY", "pii_key", _fernet_key)
    PII_OLD_KEYS = env_list("CIVICGRID_PII_OLD_KEYS", [])
    PII_INDEX_KEY = env_str("CIVICGRID_PII_INDEX_KEY") or PII_KEY

DEBUG = env_bool("CIVICGRID_DEBUG", False)
ALLOWED_HOSTS = env_list("CIVICGRID_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CIVICGRID_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "ninja",
    "civicgrid.core",
    "civicgrid.regions",
    "civicgrid.people",
    "civicgrid.cases",
    "civicgrid.inspection",
    "civicgrid.campaigns",
    "civicgrid.cogovernance",
    "civicgrid.oncall",
    "civicgrid.mediation",
    "civicgrid.incentives",
    "civicgrid.analytics",
    "civicgrid.warning",
    "civicgrid.datahub",
    "civicgrid.api",
    "civicgrid.open311",
    "civicgrid.webhooks",
    "civicgrid.demo",
    "civicgrid.web",
]

MIDDLEWARE = [
    "civicgrid.core.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "civicgrid.core.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Idle and absolute session expiry, then the second-factor step (civicgrid/core).
    "civicgrid.core.sessions.SessionExpiryMiddleware",
    "civicgrid.core.totp.TotpMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "civicgrid.urls"
WSGI_APPLICATION = "civicgrid.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "civicgrid.web.navigation.navigation",
                "civicgrid.demo.status.loading",
            ],
        },
    },
]

DATABASES = {
    "default": parse_database_url(
        "DATABASE_URL", env_str("DATABASE_URL"), sqlite_default_path=VAR_DIR / "civicgrid.sqlite3"
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Argon2id for new and changed passwords; older PBKDF2 hashes still verify and are upgraded
# at the next login.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
]
# Password logins go through the lockout (civicgrid/core/auth.py).
AUTHENTICATION_BACKENDS = ["civicgrid.core.auth.ThrottledBackend"]
LOGIN_MAX_FAILURES = env_int("CIVICGRID_LOGIN_MAX_FAILURES", 5, minimum=1)
LOGIN_MAX_FAILURES_PER_IP = env_int("CIVICGRID_LOGIN_MAX_FAILURES_PER_IP", 30, minimum=1)
LOGIN_LOCK_MINUTES = env_int("CIVICGRID_LOGIN_LOCK_MINUTES", 15, minimum=1)
# A session lasts a working day at most (counted from the login, however busy), ends after
# CIVICGRID_SESSION_IDLE_MINUTES without a request, and when the browser is closed
# (civicgrid.core.sessions.SessionExpiryMiddleware).
SESSION_COOKIE_AGE = env_int("CIVICGRID_SESSION_HOURS", 12, minimum=1) * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_IDLE_SECONDS = env_int("CIVICGRID_SESSION_IDLE_MINUTES", 30, minimum=1) * 60
# Second factor (TOTP, civicgrid/core/totp.py): optional for everyone; these roles must enrol
# (e.g. "admin,county_leader,township_leader"; "admin" also covers superusers).
TOTP_REQUIRED_ROLES = env_list("CIVICGRID_TOTP_REQUIRED_ROLES", [])
TOTP_ISSUER = env_str("CIVICGRID_TOTP_ISSUER", "civicgrid")
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = env_str("CIVICGRID_LANGUAGE", "zh-hans")
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
if LANGUAGE_CODE not in dict(LANGUAGES):
    raise ImproperlyConfigured(f"CIVICGRID_LANGUAGE: expected zh-hans or en, got {LANGUAGE_CODE!r}")
LOCALE_PATHS = [BASE_DIR / "civicgrid" / "locale"]
TIME_ZONE = env_str("CIVICGRID_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns when it is missing
# htmx, ECharts and Leaflet: pinned npm tarballs unpacked here by `civicgrid fetch_assets`
# (civicgrid/web/assets.py) and served at /static/vendor/.
VENDOR_STATIC_DIR = Path(env_str("CIVICGRID_VENDOR_DIR", str(VAR_DIR / "vendor"))).resolve()
VENDOR_STATIC_DIR.mkdir(parents=True, exist_ok=True)  # staticfiles warns when it is missing
STATICFILES_DIRS = [("vendor", VENDOR_STATIC_DIR)]
# A directory or URL holding the same tarballs, for machines that cannot reach npm.
VENDOR_ASSET_MIRROR = env_str("CIVICGRID_ASSET_MIRROR", "")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "media/"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("CIVICGRID_SECURE_COOKIES", PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
# HTTPS only in production: redirect plain HTTP and tell browsers to remember (a year by
# default; set CIVICGRID_HSTS_SECONDS=0 while trying HTTPS out). Behind a TLS-terminating
# proxy, set CIVICGRID_BEHIND_PROXY=true so the proxy's X-Forwarded-Proto is believed.
SECURE_SSL_REDIRECT = env_bool("CIVICGRID_SSL_REDIRECT", PRODUCTION)
SECURE_HSTS_SECONDS = env_int("CIVICGRID_HSTS_SECONDS", 31_536_000 if PRODUCTION else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env_bool("CIVICGRID_HSTS_PRELOAD", SECURE_HSTS_SECONDS >= 31_536_000)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # the load balancer's health check speaks plain HTTP
if env_bool("CIVICGRID_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# The REST API (/api/v1/): requests per minute for each token, key or session user.
API_RATE_PER_MINUTE = env_int("CIVICGRID_API_RATE_PER_MINUTE", 600, minimum=1)
# Queued Open311 intake: POST requests answers with a token at once and ``drain_open311``
# (or another node running it) makes the cases in batches (issue 11). Off: a case at once.
OPEN311_QUEUED_INTAKE = env_bool("CIVICGRID_OPEN311_QUEUED_INTAKE", False)
# The same for POST /api/v1/cases with a token or key: 202 and a receipt (GET /receipts/{r}).
API_QUEUED_INTAKE = env_bool("CIVICGRID_API_QUEUED_INTAKE", False)
# How long a process trusts a key it has read (a revocation elsewhere takes this long); 0: off.
API_KEY_CACHE_SECONDS = env_int("CIVICGRID_API_KEY_CACHE_SECONDS", 5, minimum=0)

# Map tiles for Leaflet (e.g. a Tianditu or an internal tile server URL with {z}/{x}/{y});
# without one the maps show grid polygons and points on a plain background.
MAP_TILE_URL = env_str("CIVICGRID_MAP_TILE_URL", "")
MAP_TILE_ATTRIBUTION = env_str("CIVICGRID_MAP_TILE_ATTRIBUTION", "")

# Notification gateways: a dotted path to a class with ``send(notification)`` for SMS and
# webhooks (civicgrid/cases/senders.py); empty logs the message instead.
CIVICGRID_SMS_SENDER = env_str("CIVICGRID_SMS_SENDER", "")
CIVICGRID_WEBHOOK_SENDER = env_str("CIVICGRID_WEBHOOK_SENDER", "")

DEMO_SEED = env_int("CIVICGRID_DEMO_SEED", 20241126)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("CIVICGRID_LOG_LEVEL", "INFO")},
}
# Serve app static files straight from the installed apps, so the demo needs no collectstatic.
WHITENOISE_USE_FINDERS = True
