# Sourced by the test, bench and fuzz runs: Django's settings, a scratch data folder (the first
# argument, else a new temporary one) and a fresh random key for this run, so that nothing
# secret is kept in the repository.
export DJANGO_SETTINGS_MODULE=alliance.settings
export ALLIANCE_DATA_DIR="${1:-$(mktemp -d)}"
export SECRET_KEY="$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')"
export PYTHONDONTWRITEBYTECODE=1
