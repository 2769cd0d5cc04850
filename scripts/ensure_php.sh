#!/usr/bin/env bash
# Install the PHP toolchain the PHP client's tests need (Debian packages):
#   php-cli php-curl php-xml php-mbstring phpunit composer
# Idempotent and quiet when everything is already there. Needs root and apt-get to
# install; otherwise it explains what is missing and exits 0 (the PHP client test then
# fails with a message that says so).
set -euo pipefail

PACKAGES=(php-cli php-curl php-xml php-mbstring phpunit composer)

have_all() {
    command -v php >/dev/null 2>&1 || return 1
    command -v phpunit >/dev/null 2>&1 || return 1
    command -v composer >/dev/null 2>&1 || return 1
    php -r 'exit(extension_loaded("curl") && extension_loaded("dom") && extension_loaded("mbstring") ? 0 : 1);' \
        >/dev/null 2>&1 || return 1
}

if have_all; then
    exit 0
fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "WARNING: php, php-curl, php-xml, php-mbstring, phpunit or composer is missing and cannot be installed" >&2
    echo "WARNING: (needs root and apt-get): the PHP client tests will fail." >&2
    echo "WARNING: install them with: apt-get install ${PACKAGES[*]}" >&2
    exit 0
fi

echo "Installing ${PACKAGES[*]} with apt-get..."
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null

if ! have_all; then
    echo "ERROR: PHP packages were installed but php/phpunit/extensions are still missing" >&2
    exit 1
fi
