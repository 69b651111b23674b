#!/usr/bin/env bash
# `make bench`: every script under bench/; each prints its figure against a baseline measured in
# the same run, ending with `BENCH <name> <figure> target <target> PASS|FAIL`.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh "${ALLIANCE_BENCH_DATA_DIR:-}"
failed=0
for script in bench/bench_*.py; do
  echo "==> $script"
  .venv/bin/python "$script" || failed=1
done
echo
[ $failed -eq 0 ] && echo "make bench: every target met" || { echo "make bench: a target was missed"; exit 1; }
