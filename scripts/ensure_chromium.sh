#!/usr/bin/env bash
# Make sure Debian's chromium is installed for the monitoring page's browser test
# (tests/e2e/test_monitor_browser.py drives /usr/bin/chromium with Playwright).
# Installs it with apt-get when missing and we are root; otherwise explains and exits 0,
# so that the browser test itself fails with a clear reason.
set -u

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

if [ -x "$CHROMIUM" ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "NOTE: $CHROMIUM is missing and cannot be installed here (needs root and apt-get)."
    echo "NOTE: install it with 'sudo apt-get install chromium'; the browser test fails without it."
    exit 0
fi
echo "Installing chromium with apt-get (for the monitoring page's browser test)..."
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        chromium fonts-dejavu-core >/dev/null; }; then
    echo "WARNING: apt-get could not install chromium; the browser test will fail."
fi
exit 0
