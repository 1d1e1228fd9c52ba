"""Settings for the recurring-orders dashboard, read from the environment.

Every value has a safe default for local use except the secret key, which
production must set. An invalid value stops start-up with one plain sentence
(ImproperlyConfigured), never a traceback through half-loaded settings.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be 1 or 0 (got {raw!r}).")


def env_url(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip() or default
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ImproperlyConfigured(f"{name} must be an http(s) URL (got {value!r}).")
    return value.rstrip("/")


def env_number(name: str, default: float | None) -> float | None:
    raw = os.environ.get(name, "").strip()
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number (got {raw!r}).") from None
    if value <= 0:
        raise ImproperlyConfigured(f"{name} must be greater than zero (got {raw!r}).")
    return value


DEBUG = env_flag("DJANGO_DEBUG", False)
SANDBOX = env_flag("DASHBOARD_SANDBOX", False)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if DEBUG or SANDBOX:
        # A throwaway key for local and sandbox use; sessions end when it changes.
        SECRET_KEY = "insecure-local-only-" + "x" * 40
    else:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set (a long random string) when neither "
            "DJANGO_DEBUG nor DASHBOARD_SANDBOX is on."
        )

ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")
    if h.strip()
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "django_htmx",
    "csp",
    "dashboard",
]
if SANDBOX:
    INSTALLED_APPS.append("dashboard.sandbox")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "dashboard.urls"
WSGI_APPLICATION = "dashboard.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "dashboard.context_processors.dashboard",
            ],
        },
    }
]

# Database: a local SQLite file unless DATABASE_URL says otherwise.
try:
    DATABASES = {
        "default": dj_database_url.config(
            default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
            conn_max_age=60,
            conn_health_checks=True,
        )
    }
except Exception as exc:  # dj-database-url raises several kinds for a bad URL
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL ({exc}).") from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )
    # A file (not memory) so live-server threads each get a connection; one per test process.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / f".test-db-{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache: Redis when REDIS_URL is set (shared by every worker and instance).
REDIS_URL = os.environ.get("REDIS_URL", "").strip()
if REDIS_URL:
    if urlsplit(REDIS_URL).scheme not in {"redis", "rediss", "unix"}:
        raise ImproperlyConfigured(f"REDIS_URL must start with redis:// or rediss:// (got {REDIS_URL!r}).")
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "dashboard",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Sessions live on the server (database); the cookie holds only the key.
SESSION_ENGINE = "django.contrib.sessions.backends.db"

AUTH_PASSWORD_VALIDATORS: list[dict] = []
LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "dashboard.storage.StaticStorage"
        )
    },
}
# Serve from the finders when the manifest has not been built (sandbox, tests).
WHITENOISE_USE_FINDERS = DEBUG or SANDBOX
WHITENOISE_AUTOREFRESH = DEBUG
if SANDBOX and not DEBUG:
    STORAGES["staticfiles"]["BACKEND"] = "whitenoise.storage.CompressedStaticFilesStorage"

# Security: secure by default; DJANGO_SECURE_SSL_REDIRECT=0 allows plain http.
SECURE_SSL_REDIRECT = env_flag("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = SECURE_SSL_REDIRECT
CSRF_COOKIE_SECURE = SECURE_SSL_REDIRECT
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SECURE_HSTS_SECONDS = 31536000 if SECURE_SSL_REDIRECT else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_SSL_REDIRECT
SECURE_HSTS_PRELOAD = False

# Content-Security-Policy: no inline script or style anywhere.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "https:", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# Jupiter upstream. In sandbox mode the default points at the embedded sandbox.
SANDBOX_PORT = os.environ.get("PORT", "8000")
JUPITER_API_URL = env_url(
    "JUPITER_API_URL",
    f"http://127.0.0.1:{SANDBOX_PORT}/sandbox/recurring/v1"
    if SANDBOX
    else "https://api.jup.ag/recurring/v1",
)
JUPITER_TOKENS_URL = env_url(
    "JUPITER_TOKENS_URL",
    f"http://127.0.0.1:{SANDBOX_PORT}/sandbox/tokens/v2" if SANDBOX else "https://api.jup.ag/tokens/v2",
)
JUPITER_API_KEY = os.environ.get("JUPITER_API_KEY", "").strip()
JUPITER_RATE_LIMIT_RPS = env_number("JUPITER_RATE_LIMIT_RPS", 1.0 if JUPITER_API_KEY else 0.5)

EXPLORER_TX_URL = "https://solscan.io/tx/{}"
EXPLORER_ACCOUNT_URL = "https://solscan.io/account/{}"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {"django.server": {"level": "WARNING"}},
}
