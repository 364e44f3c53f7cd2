#!/usr/bin/env bash
# Set up a virtualenv in .venv (if needed), install districtbench with its test
# dependencies from this checkout, and run the whole test suite on SQLite and PostgreSQL.
# Extra arguments go to pytest (e.g. scripts/test.sh -k backfill -x).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'

exec .venv/bin/python -m pytest "$@"
