#!/usr/bin/env bash
# Install the independent XLSX readers of the cross-reader test (tests/readers):
#   - Node.js and npm (Debian packages nodejs, npm) when `node` is missing;
#   - exceljs and SheetJS (npm package xlsx), the exact versions of
#     tests/readers/node/package-lock.json, into tests/readers/node/node_modules (git-ignored);
#   - LibreOffice Calc without a GUI (Debian package libreoffice-calc-nogui) when `soffice` is missing.
# Idempotent and quiet when everything is already there. apt-get runs only as root; otherwise
# it explains what is missing and exits 0, so that the cross-reader test fails with that reason.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NODE_DIR="$HERE/tests/readers/node"
STAMP="$NODE_DIR/node_modules/.ybb-installed"

can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }

apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$@" >/dev/null
}

# (a) Node.js and npm
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    if can_apt; then
        echo "Installing nodejs and npm with apt-get (for the cross-reader test)..."
        apt_install nodejs npm || echo "WARNING: apt-get could not install nodejs/npm." >&2
    else
        echo "WARNING: node or npm is missing and cannot be installed here (needs root and apt-get):" >&2
        echo "WARNING: the cross-reader test will fail. Install them with: apt-get install nodejs npm" >&2
    fi
fi

# (b) exceljs and SheetJS, pinned by package.json and package-lock.json
if command -v npm >/dev/null 2>&1; then
    if [ ! -f "$STAMP" ] || [ "$NODE_DIR/package-lock.json" -nt "$STAMP" ] || [ "$NODE_DIR/package.json" -nt "$STAMP" ]; then
        echo "Installing exceljs and xlsx (SheetJS) into tests/readers/node/node_modules..."
        if (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null); then
            touch "$STAMP"
        else
            echo "WARNING: npm ci failed in tests/readers/node: the cross-reader test will fail." >&2
        fi
    fi
fi

# (c) LibreOffice Calc, headless
if ! command -v soffice >/dev/null 2>&1; then
    if can_apt; then
        echo "Installing libreoffice-calc-nogui with apt-get (for the cross-reader test; a few minutes)..."
        apt_install libreoffice-calc-nogui || echo "WARNING: apt-get could not install libreoffice-calc-nogui." >&2
    else
        echo "WARNING: soffice is missing and cannot be installed here (needs root and apt-get):" >&2
        echo "WARNING: the cross-reader test will fail. Install it with: apt-get install libreoffice-calc-nogui" >&2
    fi
fi
exit 0
