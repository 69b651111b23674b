"""Django settings, read from the environment (see docs/architecture.md, "Settings")."""

from __future__ import annotations

import os
from pathlib import Path

from alliance import config

ENV = os.environ
BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(ENV.get("ALLIANCE_DATA_DIR") or BASE_DIR.parent / "var").resolve()

PROFILE = ENV.get("ALLIANCE_PROFILE", "local").strip().lower()
if PROFILE not in {"local", "production"}:
    raise config.SettingsError(
        f"ALLIANCE_PROFILE={PROFILE!r} is not a profile; use local or production"
    )
PRODUCTION = PROFILE == "production"

DEBUG = config.env_bool(ENV, "ALLIANCE_DEBUG", False)
if DEBUG and PRODUCTION:
    raise config.SettingsError("ALLIANCE_DEBUG cannot be on with ALLIANCE_PROFILE=production")
SECRET_KEY = config.secret_key(ENV, DATA_DIR, production=PRODUCTION)
# A bug planted for tests/test_crash_harness.py; refused here, at start-up, in production.
ALLIANCE_FAULT = config.planted_fault(ENV, production=PRODUCTION)

if PRODUCTION and not ENV.get("ALLOWED_HOSTS"):
    raise config.SettingsError(
        "ALLOWED_HOSTS is required with ALLIANCE_PROFILE=production, e.g. alliance.example.org"
    )
ALLOWED_HOSTS = config.env_list(ENV, "ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = config.env_list(ENV, "CSRF_TRUSTED_ORIGINS", [])

DATABASES = {"default": config.database(ENV.get("DATABASE_URL"), DATA_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "alliance.accounts",
    "alliance.audit",
    "alliance.clients",
    "alliance.measures",
    "alliance.alerts",
    "alliance.notify",
    "alliance.charts",
    "alliance.journal",
    "alliance.agency",
    "alliance.care",
    "alliance.reports",
    "alliance.trajectories",
    "alliance.web",
]

# Background work (emails, reminders) goes through Django's tasks framework with its database
# backend; `alliance serve` starts a worker beside the web server (`alliance worker` alone).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

MIDDLEWARE = [
    "alliance.web.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "alliance.web.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "alliance.web.middleware.RejectNulMiddleware",
    "alliance.web.middleware.AuditBatchMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "alliance.accounts.sessions.AuthenticationMiddleware",
    # After MessageMiddleware: the session policy tells the user why it signed them out.
    "django.contrib.messages.middleware.MessageMiddleware",
    "alliance.accounts.middleware.SessionPolicyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "alliance.urls"
WSGI_APPLICATION = "alliance.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "alliance.web.context.actor",
                "alliance.alerts.context.risk_banner",
            ],
        },
    },
]

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["alliance.accounts.sessions.SignInBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sessions: an absolute lifetime and an idle timeout, both enforced by SessionPolicyMiddleware.
SESSION_IDLE_TIMEOUT = config.env_int(ENV, "ALLIANCE_SESSION_IDLE_MINUTES", 30, minimum=1) * 60
SESSION_MAX_AGE = config.env_int(ENV, "ALLIANCE_SESSION_MAX_HOURS", 12, minimum=1) * 3600
SESSION_COOKIE_AGE = SESSION_MAX_AGE
# One statement reads the session, its user and their role (alliance/accounts/sessions.py).
SESSION_ENGINE = "alliance.accounts.sessions"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
LOGIN_FAILURE_LIMIT = config.env_int(ENV, "ALLIANCE_LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_FAILURE_WINDOW = config.env_int(ENV, "ALLIANCE_LOGIN_WINDOW_MINUTES", 15, minimum=1) * 60

# Security headers. The CSP allows nothing from another origin (see web/middleware.py).
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_COOKIE_HTTPONLY = True
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = config.env_bool(ENV, "ALLIANCE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = config.env_int(ENV, "ALLIANCE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LANGUAGE_CODE = "en-gb"
TIME_ZONE = config.env_time_zone(ENV, "ALLIANCE_TIME_ZONE", "Europe/London")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise expects it even before collectstatic
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Email goes through Django's backends: the console in the local profile, SMTP when configured.
EMAIL_BACKEND = {
    "console": "django.core.mail.backends.console.EmailBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "memory": "django.core.mail.backends.locmem.EmailBackend",
}.get(ENV.get("EMAIL_BACKEND", "smtp" if PRODUCTION else "console"), "")
if not EMAIL_BACKEND:
    raise config.SettingsError(
        f"EMAIL_BACKEND={ENV.get('EMAIL_BACKEND')!r} is not known; "
        "use smtp, console, file or memory"
    )
EMAIL_HOST = ENV.get("EMAIL_HOST", "localhost")
EMAIL_PORT = config.env_int(ENV, "EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = ENV.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = config.read_secret(ENV, "EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = config.env_bool(ENV, "EMAIL_USE_TLS", True)
EMAIL_FILE_PATH = str(DATA_DIR / "mail")
DEFAULT_FROM_EMAIL = ENV.get("DEFAULT_FROM_EMAIL", "Alliance <alliance@localhost>")
# The address clients and staff reach this server at, for links in emails.
ALLIANCE_BASE_URL = ENV.get("ALLIANCE_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

LOG_LEVEL = config.env_choice(
    ENV, "ALLIANCE_LOG_LEVEL", "INFO", ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
)
# Logs never carry request bodies or client data: only what the formatters below print.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"redact": {"()": "alliance.web.logs.RedactTokens"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.request": {"level": "ERROR"}},
}
# The local profile serves static files straight from the apps, so a code change needs no
# collectstatic; production serves the collected copies.
WHITENOISE_USE_FINDERS = not PRODUCTION
