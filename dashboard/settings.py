"""Settings for the recurring-orders dashboard, read from the environment.

Every value has a safe default for local use except the secret key, which
production must set. An invalid value stops start-up with one plain sentence
(ImproperlyConfigured), never a traceback through half-loaded settings.
"""

from __future__ import annotations

import os
import re
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
    h.strip() for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h.strip()
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
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
    "dashboard.middleware.BodyLimit",  # before CSRF's, which reads the form
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "dashboard.middleware.session_lifetime",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
]
if SANDBOX:  # the CPU time of every answer, for `make bench` (dashboard/sandbox/timing.py)
    MIDDLEWARE.insert(0, "dashboard.sandbox.timing.server_timing")

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

# Database: a local SQLite file unless DATABASE_URL says otherwise. Connections are kept for
# DJANGO_CONN_MAX_AGE seconds (0: closed after each request).
_conn_max_age = os.environ.get("DJANGO_CONN_MAX_AGE", "").strip() or "60"
if not _conn_max_age.isdigit():
    raise ImproperlyConfigured(f"DJANGO_CONN_MAX_AGE must be a whole number of seconds (got {_conn_max_age!r}).")
CONN_MAX_AGE = int(_conn_max_age)
try:
    DATABASES = {
        "default": dj_database_url.config(
            default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
            conn_max_age=CONN_MAX_AGE,
            conn_health_checks=True,
        )
    }
except Exception as exc:  # dj-database-url raises several kinds for a bad URL
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL ({exc}).") from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            # Write-ahead log: readers never wait for the writer, and commits skip most fsyncs.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
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
            "BACKEND": "dashboard.cache.RedisCache",  # Django's, one redis client per pool
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "dashboard",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Sessions live on the server (database); the cookie holds only the key. A session ends after
# DJANGO_SESSION_IDLE_SECONDS without a request (each request renews it), and in any case
# DJANGO_SESSION_ABSOLUTE_SECONDS after sign-in (dashboard.middleware.session_lifetime).
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = int(env_number("DJANGO_SESSION_IDLE_SECONDS", 30 * 60))
SESSION_SAVE_EVERY_REQUEST = True
SESSION_ABSOLUTE_SECONDS = int(env_number("DJANGO_SESSION_ABSOLUTE_SECONDS", 12 * 3600))

# Inbound rate limits (django-ratelimit) on the shared cache, "<count>/<period>" (s, m, h, d)
# per client address and, for cancels, per wallet as well. Sign-in and cancel each count two
# requests (challenge + verify, start + submit). Generous in sandbox mode, where tests and demos
# sign in many times from one address; tests lower them through settings.
RATELIMIT_USE_CACHE = "default"


def env_rate(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip() or default
    if not re.fullmatch(r"[1-9]\d*/\d*[smhd]", value):
        raise ImproperlyConfigured(f"{name} must look like 20/m (a count per s, m, h or d; got {value!r}).")
    return value


RATELIMIT_SIGN_IN = env_rate("DASHBOARD_RATELIMIT_SIGN_IN", "1000/m" if SANDBOX else "20/m")
RATELIMIT_CANCEL = env_rate("DASHBOARD_RATELIMIT_CANCEL", "1000/m" if SANDBOX else "20/m")
# A cancel's follow-ups (status checks, every 5 s while one is still confirming; declines).
RATELIMIT_CANCEL_STATUS = env_rate("DASHBOARD_RATELIMIT_CANCEL_STATUS", "1000/m" if SANDBOX else "60/m")
# Views of the order lists (active, history, export) per client address and per wallet.
RATELIMIT_LISTS = env_rate("DASHBOARD_RATELIMIT_LISTS", "1000/m" if SANDBOX else "60/m")
SILENCED_SYSTEM_CHECKS: list[str] = []
if CACHES["default"]["BACKEND"].endswith("LocMemCache"):
    # Without REDIS_URL each process counts on its own (limits are per worker): fine for one
    # process and for tests; set REDIS_URL to share the counts between workers and instances.
    SILENCED_SYSTEM_CHECKS += ["django_ratelimit.E003", "django_ratelimit.W001"]
elif CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    # Django's own Redis cache increments atomically; the check only knows django-redis.
    SILENCED_SYSTEM_CHECKS += ["django_ratelimit.W001"]

AUTH_PASSWORD_VALIDATORS: list[dict] = []
LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Every file of static/ and of this project's apps; of other apps only what the pages load.
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "dashboard.storage.AppDirectoriesFinder",
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage" if DEBUG else "dashboard.storage.StaticStorage"
        )
    },
}
# Serve from the finders when the manifest has not been built (sandbox, tests).
WHITENOISE_USE_FINDERS = DEBUG or SANDBOX
# collectstatic leaves only the hashed (and compressed) names: a reference to an unhashed name
# fails loudly instead of loading a second copy of a module.
WHITENOISE_KEEP_ONLY_HASHED_FILES = True
WHITENOISE_AUTOREFRESH = DEBUG
if SANDBOX and not DEBUG:
    STORAGES["staticfiles"]["BACKEND"] = "whitenoise.storage.CompressedStaticFilesStorage"

# Security: https unless DEBUG is on. Cookies are Secure whenever DEBUG is off, whether this site
# redirects to https itself or a proxy does (DJANGO_SECURE_SSL_REDIRECT=0). Plain http is only
# for a deliberate setup (local demos, tests): DJANGO_ALLOW_PLAIN_HTTP=1, which `check --deploy`
# warns about (dashboard.W001).
ALLOW_PLAIN_HTTP = env_flag("DJANGO_ALLOW_PLAIN_HTTP", False)
SECURE_SSL_REDIRECT = env_flag("DJANGO_SECURE_SSL_REDIRECT", not (DEBUG or ALLOW_PLAIN_HTTP))
if ALLOW_PLAIN_HTTP and SECURE_SSL_REDIRECT:
    raise ImproperlyConfigured("DJANGO_ALLOW_PLAIN_HTTP=1 and DJANGO_SECURE_SSL_REDIRECT=1 contradict each other.")
SESSION_COOKIE_SECURE = not (DEBUG or ALLOW_PLAIN_HTTP)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True  # the pages hand the token to scripts in data-csrf
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Sent on https responses only; a year, subdomains included.
SECURE_HSTS_SECONDS = 0 if DEBUG else 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env_flag("DJANGO_SECURE_HSTS_PRELOAD", False)
if not SECURE_HSTS_PRELOAD:
    # Joining the browsers' preload list is hard to undo: the operator opts in explicitly.
    SILENCED_SYSTEM_CHECKS.append("security.W021")
# Load balancers probe over plain http.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto/-Host (and strips client copies).
TRUST_PROXY = env_flag("DJANGO_TRUST_PROXY", False)
if TRUST_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
    # Rate limits count the address the proxy saw (the last X-Forwarded-For entry).
    RATELIMIT_IP_META_KEY = "dashboard.limits.client_address"
CSRF_FAILURE_VIEW = "dashboard.views.csrf_failure"
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

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
    f"http://127.0.0.1:{SANDBOX_PORT}/sandbox/recurring/v1" if SANDBOX else "https://api.jup.ag/recurring/v1",
)
JUPITER_TOKENS_URL = env_url(
    "JUPITER_TOKENS_URL",
    f"http://127.0.0.1:{SANDBOX_PORT}/sandbox/tokens/v2" if SANDBOX else "https://api.jup.ag/tokens/v2",
)
# Trigger API v2 (Jupiter's newer DCA orders); the same API key and outbound budget apply.
JUPITER_TRIGGER_API_URL = env_url(
    "JUPITER_TRIGGER_API_URL",
    f"http://127.0.0.1:{SANDBOX_PORT}/sandbox/trigger/v2" if SANDBOX else "https://api.jup.ag/trigger/v2",
)
JUPITER_API_KEY = os.environ.get("JUPITER_API_KEY", "").strip()
# An optional Solana JSON-RPC node: reads the balance a SOL order's refund pays out before the
# wallet signs (unset: the page names Jupiter's figure). Often carries a provider's key: never logged.
# In sandbox mode the default is the sandbox's own Solana RPC, served by this same server.
SOLANA_RPC_URL = (
    env_url("SOLANA_RPC_URL", "")
    if os.environ.get("SOLANA_RPC_URL", "").strip()
    else f"http://127.0.0.1:{SANDBOX_PORT}/sandbox/solana-rpc"
    if SANDBOX
    else ""
)
# The most a cancel or refund transaction may pay in priority fees (compute-unit price × limit),
# checked on what Jupiter issues and on what the wallet signed. 200,000 lamports = 0.0002 SOL,
# about ten times what Jupiter's own cancel transactions set.
MAX_PRIORITY_FEE_LAMPORTS = int(env_number("DASHBOARD_MAX_PRIORITY_FEE_LAMPORTS", 200_000))
# Seconds to wait for Jupiter's answer once connected (every API, every call).
JUPITER_TIMEOUT_SECONDS = env_number("JUPITER_TIMEOUT_SECONDS", 10.0)
JUPITER_RATE_LIMIT_RPS = env_number("JUPITER_RATE_LIMIT_RPS", 1.0 if JUPITER_API_KEY else 0.5)
# Outbound guards (dashboard.budget), shared through Redis when REDIS_URL is set. Off by default
# against the sandbox (tests and `make run` call it often) unless their variable is set.
JUPITER_RATE_LIMIT_ENABLED = not SANDBOX or bool(os.environ.get("JUPITER_RATE_LIMIT_RPS", "").strip())
JUPITER_RATE_WINDOW_SECONDS = env_number("JUPITER_RATE_WINDOW_SECONDS", 60.0)
JUPITER_RATE_LIST_SHARE = env_number("JUPITER_RATE_LIST_SHARE", 0.7)
# The part of the list budget one wallet, or one client address, may use in a window.
JUPITER_RATE_FAIR_SHARE = env_number("JUPITER_RATE_FAIR_SHARE", 0.5)
JUPITER_RATE_MAX_WAIT = env_number("JUPITER_RATE_MAX_WAIT", 2.0)
JUPITER_BREAKER_ENABLED = not SANDBOX or bool(os.environ.get("JUPITER_BREAKER_FAILURES", "").strip())
JUPITER_BREAKER_FAILURES = int(env_number("JUPITER_BREAKER_FAILURES", 5))
JUPITER_BREAKER_COOLDOWN = env_number("JUPITER_BREAKER_COOLDOWN", 30.0)


def env_explorer(name: str, default: str) -> str:
    """An https: explorer link with one `{}` where the signature or address goes."""
    value = os.environ.get(name, "").strip() or default
    if not value.startswith("https://") or value.count("{}") != 1:
        raise ImproperlyConfigured(f"{name} must be an https:// URL with one {{}} for the address (got {value!r}).")
    return value


# Explorer links (Solscan by default; e.g. https://explorer.solana.com/tx/{} for Solana Explorer).
EXPLORER_TX_URL = env_explorer("DASHBOARD_EXPLORER_TX_URL", "https://solscan.io/tx/{}")
EXPLORER_ACCOUNT_URL = env_explorer("DASHBOARD_EXPLORER_ACCOUNT_URL", "https://solscan.io/account/{}")
_explorer_host = urlsplit(EXPLORER_TX_URL).hostname or ""
EXPLORER_NAME = {"solscan.io": "Solscan", "explorer.solana.com": "Solana Explorer", "solana.fm": "SolanaFM"}.get(
    _explorer_host, _explorer_host
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    # urllib3's debug lines carry whole URLs, and a Solana RPC URL often carries a provider's key.
    "loggers": {"django.server": {"level": "WARNING"}, "urllib3": {"level": "WARNING"}},
}
