#!/usr/bin/env bash
# The test command: sets up everything it needs (virtualenv, package, PostgreSQL), then runs
# the whole suite. Extra arguments go to pytest (e.g. scripts/test.sh -k audit).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -U pip >/dev/null
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'

if [ -z "${SYNDICATOR_TEST_PG_URL:-}" ]; then
  if url=$(bash scripts/ensure-postgres.sh); then
    export SYNDICATOR_TEST_PG_URL="$url"
  fi
fi

if [ -x scripts/ensure-browser.sh ]; then
  bash scripts/ensure-browser.sh || true
fi

# pytest exits 5 when it collected no test: that is a failure here too.
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
