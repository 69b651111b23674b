#!/usr/bin/env bash
# `make test`: every check, then the whole suite on SQLite and (when reachable) PostgreSQL.
# With CI=true, PostgreSQL and the browser are mandatory.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
. scripts/env.sh "${ALLIANCE_TEST_DATA_DIR:-}"
CI="${CI:-false}"
PG_URL="${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/alliance}"
unset DATABASE_URL
failed=0

step() { printf '\n==> %s\n' "$*"; }
run() { "$@" || { echo "FAILED: $*"; failed=1; }; }

step "ruff check";            run $BIN/ruff check .
step "ruff format --check";   run $BIN/ruff format --check .
step "mypy";                  run $BIN/mypy alliance bench tests conftest.py
step "bandit (high severity)"; run $BIN/bandit -q -r alliance --severity-level high
step "dangerous constructs";  run $BIN/python scripts/patterns.py alliance
step "manage.py check";       run $BIN/python manage.py check --fail-level WARNING
step "makemigrations --check"; run $BIN/python manage.py makemigrations --check --dry-run

pg_reachable() {
  DATABASE_URL="$PG_URL" $BIN/python - <<'PY'
import os, sys
import psycopg
from alliance.config import database
d = database(os.environ["DATABASE_URL"], None)
try:
    psycopg.connect(dbname="postgres", user=d["USER"] or None, password=d["PASSWORD"] or None,
                    host=d["HOST"] or None, port=d["PORT"] or None, connect_timeout=3).close()
except Exception as exc:
    print(f"PostgreSQL at {os.environ['DATABASE_URL']} is not reachable: {str(exc).strip().splitlines()[0]}")
    sys.exit(1)
PY
}

LOGS=$(mktemp -d)
step "pytest on SQLite and PostgreSQL (in parallel; logs follow)"
$BIN/pytest -q -o addopts="-p no:cacheprovider" --basetemp="$LOGS/tmp-sqlite" >"$LOGS/sqlite.log" 2>&1 &
sqlite_pid=$!
pg_pid=""
if pg_reachable; then
  DATABASE_URL="$PG_URL" $BIN/pytest -q -o addopts="-p no:cacheprovider" --basetemp="$LOGS/tmp-pg" >"$LOGS/pg.log" 2>&1 &
  pg_pid=$!
elif [ "$CI" = "true" ]; then
  echo "FAILED: CI=true needs PostgreSQL (set DATABASE_URL or start the local cluster)"
  failed=1
else
  echo "NOTE: the PostgreSQL run was left out (no server reachable); CI=true makes it mandatory."
fi
wait $sqlite_pid; sqlite_rc=$?
echo; echo "---- pytest on SQLite ----"; cat "$LOGS/sqlite.log"
[ $sqlite_rc -eq 0 ] || { echo "FAILED: pytest on SQLite"; failed=1; }
if [ -n "$pg_pid" ]; then
  wait $pg_pid; pg_rc=$?
  echo; echo "---- pytest on PostgreSQL ----"; cat "$LOGS/pg.log"
  [ $pg_rc -eq 0 ] || { echo "FAILED: pytest on PostgreSQL"; failed=1; }
fi

echo
if [ $failed -ne 0 ]; then echo "make test: FAILED"; exit 1; fi
echo "make test: all checks and suites passed"
