#!/usr/bin/env bash
# Make sure Debian's MariaDB and PostgreSQL servers are installed for the database tests and
# the benchmark (tests/databases.py starts private servers from them on free loopback ports).
# Installs them with apt-get when missing and we are root, without letting the packages start
# their own services; otherwise explains how to point the tests at running servers and exits 0,
# so that the database tests themselves fail with a clear reason.
set -euo pipefail

PACKAGES=(mariadb-server postgresql)

have_mariadb() {
    command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ]
}

have_postgres() {
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

if have_mariadb && have_postgres; then
    exit 0
fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "WARNING: mariadbd or PostgreSQL's initdb is missing and cannot be installed here (needs root and apt-get):" >&2
    echo "WARNING: the database tests will fail. Install them with 'sudo apt-get install ${PACKAGES[*]}'," >&2
    echo "WARNING: or point the tests at running servers with admin SQLAlchemy URLs, e.g." >&2
    echo "WARNING:   YBB_TEST_MARIADB_URL='mysql+pymysql://root:pw@127.0.0.1:3306/mysql'" >&2
    echo "WARNING:   YBB_TEST_POSTGRES_URL='postgresql+psycopg://postgres:pw@127.0.0.1:5432/postgres'" >&2
    exit 0
fi

echo "Installing ${PACKAGES[*]} with apt-get (for the database tests)..."
# Keep the packages' maintainer scripts from starting (and leaving running) their services.
created_policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    created_policy=1
fi
remove_policy() {
    if [ -n "$created_policy" ]; then
        rm -f /usr/sbin/policy-rc.d
    fi
}
trap remove_policy EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${PACKAGES[@]}" >/dev/null

if ! have_mariadb || ! have_postgres; then
    echo "ERROR: ${PACKAGES[*]} were installed but mariadbd or initdb is still missing" >&2
    exit 1
fi
