#!/usr/bin/env bash
# The main job on an embedded default: SQLite in a temporary directory, local stand-ins of the
# portal, Facebook, Zalo and Telegram, no credentials, no network. Sets itself up first.
# Extra arguments go to `syndicator demo` (e.g. --keep-running, --articles 5).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e . >/dev/null
exec .venv/bin/syndicator demo "$@"
