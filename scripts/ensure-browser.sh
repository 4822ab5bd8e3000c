#!/usr/bin/env bash
# Makes sure Debian's chromium is present for the browser tests (tests/ops/test_console_browser.py).
# Installs it only when /usr/bin/chromium is missing and we are root; otherwise says why it did
# nothing and exits 0, so the tests skip with their own reason instead of the suite failing.
# (The Python playwright package drives this system chromium; `playwright install` is not used.)
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  echo "ensure-browser: /usr/bin/chromium is present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-browser: /usr/bin/chromium is missing and we are not root; browser tests will skip" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-browser: no apt-get (not Debian/Ubuntu); browser tests will skip" >&2
  exit 0
fi
echo "ensure-browser: installing chromium with apt-get"
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq chromium; } >&2; then
  echo "ensure-browser: apt-get could not install chromium; browser tests will skip" >&2
  exit 0
fi
echo "ensure-browser: $(/usr/bin/chromium --version 2>/dev/null || echo chromium installed)"
