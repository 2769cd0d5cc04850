#!/usr/bin/env bash
# Install or upgrade the YBB Data Management Service on a fresh Debian 12 or
# Ubuntu 24.04 VPS, with systemd units and nginx. Idempotent: re-running it
# upgrades code and dependencies, re-installs the units and re-renders the nginx
# site; it never overwrites /etc/ybb/*.env (only appends what a new release needs), keys or passwords.
#
#   sudo deploy/install.sh [--server-name ybb.example.com] [--workers 4]
#   sudo deploy/install.sh --worker-only      # host 2..n: Dask workers only (needs PostgreSQL)
#   sudo deploy/install.sh --nginx-only       # re-render the nginx site and reload
#
# Layout: /opt/ybb (code, root-owned), /opt/ybb/.venv, /etc/ybb (settings),
# /etc/ybb/dask-tls (the Dask cluster's CA and certificate), /var/lib/ybb/data (shared
# data directory), /var/log/ybb; user and group `ybb`. See docs/deploy.md.
set -euo pipefail

SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX=/opt/ybb
VENV="$PREFIX/.venv"
ETC_DIR=/etc/ybb
DASK_TLS_DIR=/etc/ybb/dask-tls
STATE_DIR=/var/lib/ybb
DATA_DIR="$STATE_DIR/data"
LOG_DIR=/var/log/ybb
UNIT_DIR=/etc/systemd/system
NGINX_CONF=/etc/nginx/conf.d/ybb.conf
ACME_WEBROOT=/var/www/certbot
YBB_USER=ybb

WORKERS="${YBB_WORKERS:-2}"
# A fixed UID/GID for the ybb user (first install only); set the same on every host
# that shares the data directory over NFS.
YBB_UID="${YBB_UID:-}"
SERVER_NAME="${SERVER_NAME:-}"
PYTHON="${YBB_PYTHON:-}"
MODE=full          # full | worker-only | nginx-only
START=1

usage() {
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    cat <<'EOF'
Options:
  --server-name NAME  public host name for nginx (default: hostname -f); first install only
  --workers N         Dask worker instances to enable on this host (default 2, env YBB_WORKERS)
  --worker-only       install only the Dask workers (no API, scheduler, nginx). Refuses to
                      enable them until /etc/ybb/ybb.env has JOB_STORE_URL or JOB_STORE_URL_FILE
                      (PostgreSQL), a remote DASK_SCHEDULER_ADDRESS, and the Dask TLS files exist
  --nginx-only        only re-render /etc/nginx/conf.d/ybb.conf from /etc/ybb/nginx.env
  --no-start          install and enable, but do not (re)start services
  --python PATH       interpreter for the venv (default: python3.11, else python3)
Environment: YBB_UID (fixed UID/GID of the ybb user, for NFS), YBB_WORKERS, SERVER_NAME, YBB_PYTHON
EOF
}

while [ $# -gt 0 ]; do
    case "$1" in
        --server-name) SERVER_NAME="${2:?--server-name needs a value}"; shift 2 ;;
        --workers) WORKERS="${2:?--workers needs a value}"; shift 2 ;;
        --worker-only) MODE=worker-only; shift ;;
        --nginx-only) MODE=nginx-only; shift ;;
        --no-start) START=0; shift ;;
        --python) PYTHON="${2:?--python needs a value}"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
done

log() { printf '\033[1;34m==>\033[0m %s\n' "$*"; }
warn() { printf '\033[1;33mwarning:\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (sudo $0)"
case "$WORKERS" in ''|*[!0-9]*) die "--workers must be a number" ;; esac
[ -f "$SRC_DIR/requirements.txt" ] && [ -d "$SRC_DIR/services" ] \
    || die "$SRC_DIR does not look like the YBB repository (requirements.txt, services/)"

check_os() {
    # shellcheck disable=SC1091
    . /etc/os-release
    case "${ID:-}:${VERSION_ID:-}" in
        debian:12|ubuntu:24.04) ;;
        *) warn "tested on Debian 12 and Ubuntu 24.04, this is ${PRETTY_NAME:-unknown}; continuing" ;;
    esac
}

install_packages() {
    log "installing system packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    local pkgs=(ca-certificates openssl rsync python3-venv)
    if [ "$MODE" = full ]; then
        pkgs+=(nginx gettext-base ssl-cert certbot)
    else
        pkgs+=(nfs-common)     # the shared data directory of a worker host
    fi
    # Python 3.11 is the supported runtime (Debian 12's python3). Ubuntu 24.04 ships
    # 3.12 only; the pinned requirements install there too, but see docs/deploy.md.
    if [ -z "$PYTHON" ] && apt-cache show python3.11-venv >/dev/null 2>&1; then
        pkgs+=(python3.11 python3.11-venv)
    fi
    apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
}

choose_python() {
    if [ -z "$PYTHON" ]; then
        if command -v python3.11 >/dev/null 2>&1; then
            PYTHON="$(command -v python3.11)"
        else
            PYTHON="$(command -v python3)"
            warn "python3.11 not available; using $("$PYTHON" --version 2>&1) (the images use 3.11)"
        fi
    fi
    [ -x "$PYTHON" ] || die "no usable Python interpreter ($PYTHON)"
}

create_user() {
    local id_opts=()
    [ -z "$YBB_UID" ] || id_opts=(--uid "$YBB_UID")
    local gid_opts=()
    [ -z "$YBB_UID" ] || gid_opts=(--gid "$YBB_UID")
    if ! getent group "$YBB_USER" >/dev/null; then
        groupadd --system "${gid_opts[@]}" "$YBB_USER"
    fi
    if ! getent passwd "$YBB_USER" >/dev/null; then
        log "creating system user $YBB_USER"
        useradd --system "${id_opts[@]}" --gid "$YBB_USER" --home-dir "$STATE_DIR" --no-create-home \
            --shell /usr/sbin/nologin "$YBB_USER"
    elif [ -n "$YBB_UID" ] && [ "$(id -u "$YBB_USER")" != "$YBB_UID" ]; then
        warn "user $YBB_USER exists with UID $(id -u "$YBB_USER"), not $YBB_UID; left unchanged"
    fi
    # nginx (www-data) reads exports from the data directory for X-Accel-Redirect.
    if [ "$MODE" = full ] && getent passwd www-data >/dev/null \
        && ! id -nG www-data | tr ' ' '\n' | grep -qx "$YBB_USER"; then
        usermod -a -G "$YBB_USER" www-data
    fi
}

create_dirs() {
    install -d -o root -g root -m 0755 "$PREFIX"
    install -d -o root -g "$YBB_USER" -m 0750 "$ETC_DIR"
    install -d -o "$YBB_USER" -g "$YBB_USER" -m 0700 "$ETC_DIR/keys"
    install -d -o "$YBB_USER" -g "$YBB_USER" -m 0750 "$STATE_DIR"
    local fstype
    fstype="$(fs_type "$DATA_DIR")"
    if is_shared_fs "$fstype"; then
        # Already the mounted share (a re-run): its owner and mode are the server's business
        # (root may not chown there: root_squash).
        log "$DATA_DIR is on $fstype: leaving its owner and mode alone"
    else
        # setgid: new files and directories keep group ybb, which nginx is a member of.
        install -d -o "$YBB_USER" -g "$YBB_USER" -m 2750 "$DATA_DIR"
    fi
    install -d -o "$YBB_USER" -g "$YBB_USER" -m 0750 "$LOG_DIR"
}

# The filesystem type of DIR, or of its nearest existing parent (findmnt, else stat -f).
fs_type() {
    local dir="$1" type=""
    while [ ! -e "$dir" ] && [ "$dir" != / ]; do dir="$(dirname "$dir")"; done
    type="$(findmnt -n -o FSTYPE --target "$dir" 2>/dev/null | head -n 1 || true)"
    [ -n "$type" ] || type="$(stat -f -c %T "$dir" 2>/dev/null || true)"
    printf '%s\n' "${type:-unknown}"
}

# Network and FUSE filesystems: shared between hosts, and no place for SQLite's WAL.
is_shared_fs() {
    case "$1" in
        nfs|nfs4|cifs|smb|smb2|smb3|smbfs|fuse|fuseblk|fuse.*|glusterfs|ceph|9p|lustre|gpfs|afs|ocfs2|gfs2|beegfs|davfs|sshfs) return 0 ;;
        *) return 1 ;;
    esac
}

# The value of KEY in a systemd EnvironmentFile: the last KEY=... line, quotes stripped
# (the file is read, never sourced).
env_value() {
    local key="$1" file="$2" line value=""
    [ -f "$file" ] || return 0
    while IFS= read -r line || [ -n "$line" ]; do
        case "$line" in "$key="*) value="${line#"$key="}" ;; esac
    done < "$file"
    case "$value" in \"*\") value="${value:1:${#value}-2}" ;; \'*\') value="${value:1:${#value}-2}" ;; esac
    printf '%s\n' "$value"
}

# What is unsafe about this host's job store, one line per problem (none: fine). Without
# JOB_STORE_URL(_FILE) the store is SQLite in DATA_DIR, in WAL mode, which needs one host's
# shared memory: never on NFS or any shared filesystem, and never shared with another
# host's processes. So a worker-only host (whose API is elsewhere) needs PostgreSQL, and a
# full install on a shared DATA_DIR does too. As the code does, JOB_STORE_URL_FILE wins.
job_store_problems() {
    local env_file="$ETC_DIR/ybb.env" data_dir url url_file fstype shared=0
    data_dir="$(env_value DATA_DIR "$env_file")"
    data_dir="${data_dir:-$DATA_DIR}"
    fstype="$(fs_type "$data_dir")"
    if is_shared_fs "$fstype"; then shared=1; fi
    url="$(env_value JOB_STORE_URL "$env_file")"
    url_file="$(env_value JOB_STORE_URL_FILE "$env_file")"
    if [ -n "$url_file" ]; then
        url=""
        if [ -f "$url_file" ]; then url="$(tr -d '[:space:]' < "$url_file")"; fi
        if [ -z "$url" ]; then
            echo "JOB_STORE_URL_FILE=$url_file in $env_file: the file is missing or empty (it holds postgresql://user:password@host:5432/db)"
            return 0
        fi
    fi
    case "$url" in
        "")
            if [ "$MODE" = worker-only ]; then
                echo "$env_file sets neither JOB_STORE_URL nor JOB_STORE_URL_FILE: a worker host shares the API host's job store, which must be PostgreSQL (SQLite cannot be shared between hosts)"
            fi
            if [ "$shared" -eq 1 ]; then
                echo "DATA_DIR $data_dir is on $fstype and there is no JOB_STORE_URL: the SQLite job store (WAL) corrupts or fails to lock on a shared filesystem; use PostgreSQL (JOB_STORE_URL_FILE) or a local DATA_DIR"
            fi
            ;;
        sqlite*)
            if [ "$MODE" = worker-only ] || [ "$shared" -eq 1 ]; then
                echo "the job store URL is an SQLite one: a worker host or a shared DATA_DIR ($fstype) needs PostgreSQL"
            fi
            ;;
        postgres://*|postgresql://*|postgresql+*://*) ;;
        *)
            if [ "$MODE" = worker-only ]; then
                echo "the job store URL is not a postgresql:// URL"
            fi
            ;;
    esac
    return 0
}

# A single host: SQLite is fine on a local disk; say so loudly when DATA_DIR is shared.
warn_job_store() {
    local problem
    while IFS= read -r problem; do
        [ -z "$problem" ] || warn "$problem (docs/deploy.md, section 4)"
    done < <(job_store_problems)
}

# A worker-only host shares host 1's job store (PostgreSQL), data directory (NFS) and Dask
# cluster (mutual TLS). Refuse to enable its workers until all of that is configured, and
# list everything that is missing at once.
check_worker_host() {
    local env_file="$ETC_DIR/ybb.env" problems=() problem var name path address fstype data_dir
    while IFS= read -r problem; do
        [ -z "$problem" ] || problems+=("$problem")
    done < <(job_store_problems)
    for var in DASK_TLS_CA_FILE:ca.pem DASK_TLS_CERT:cert.pem DASK_TLS_KEY:key.pem; do
        name="${var%%:*}"
        path="$(env_value "$name" "$env_file")"
        path="${path:-$DASK_TLS_DIR/${var#*:}}"
        if [ ! -s "$path" ]; then
            problems+=("$name: $path is missing or empty; copy ca.pem, cert.pem and key.pem from the scheduler's host ($DASK_TLS_DIR there; owner $YBB_USER, key.pem mode 0600)")
        fi
    done
    address="$(env_value DASK_SCHEDULER_ADDRESS "$env_file")"
    case "$address" in
        ""|tls://127.*|tls://localhost*|"tls://[::1]"*)
            problems+=("DASK_SCHEDULER_ADDRESS=${address:-(unset)} in $env_file: set the scheduler host's private address, e.g. tls://10.0.0.10:8786") ;;
        tls://*) ;;
        *) problems+=("DASK_SCHEDULER_ADDRESS=$address in $env_file: the scheduler speaks tls:// only") ;;
    esac
    if [ "${#problems[@]}" -gt 0 ]; then
        for problem in "${problems[@]}"; do warn "$problem"; done
        die "worker host not ready (${#problems[@]} problem(s) above): fix them, then run $0 --worker-only again (docs/deploy.md, 'Add a worker host'); no worker was enabled"
    fi
    data_dir="$(env_value DATA_DIR "$env_file")"
    data_dir="${data_dir:-$DATA_DIR}"
    fstype="$(fs_type "$data_dir")"
    if ! is_shared_fs "$fstype"; then
        warn "$data_dir is on $fstype, not a shared filesystem: mount the data directory that the API host serves (NFS, docs/deploy.md), or the files this host's workers write are invisible to the API"
    fi
}

install_code() {
    if [ "$SRC_DIR" != "$PREFIX" ]; then
        log "copying code $SRC_DIR -> $PREFIX"
        rsync -a --delete --chown=root:root --chmod=D755,F644 \
            --exclude '/.venv/' --exclude '/.git/' --exclude '/var/' --exclude '/.env' \
            --exclude '/secrets/' --exclude '/certs/' --exclude '__pycache__/' \
            "$SRC_DIR/" "$PREFIX/"
        chmod 0755 "$PREFIX/deploy/install.sh"
    fi
}

install_venv() {
    if [ -x "$VENV/bin/python" ]; then
        local have want
        have="$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
        want="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
        if [ "$have" != "$want" ]; then
            log "venv is Python $have, wanted $want: recreating"
            rm -rf "$VENV"
        fi
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating venv $VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    log "installing pinned requirements"
    "$VENV/bin/python" -m pip install --quiet --no-cache-dir --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --no-cache-dir -r "$PREFIX/requirements.txt"
    # The code is read-only to the services: compile it now.
    "$VENV/bin/python" -m compileall -q "$PREFIX/services" >/dev/null
}

install_config() {
    local env_file="$ETC_DIR/ybb.env"
    if [ ! -f "$env_file" ]; then
        log "creating $env_file (with a new SECRET_KEY)"
        local secret
        secret="$("$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(48))')"
        sed "s|^SECRET_KEY=.*|SECRET_KEY=$secret|" "$PREFIX/deploy/systemd/ybb.env.example" > "$env_file"
        chown root:"$YBB_USER" "$env_file"
        chmod 0640 "$env_file"
    fi
    # Upgrade from a release before Dask's mutual TLS: the scheduler now listens on tls://.
    if ! grep -q '^DASK_TLS_CA_FILE=' "$env_file"; then
        log "$env_file: adding the Dask TLS files; DASK_SCHEDULER_ADDRESS tcp:// -> tls://"
        sed -i 's|^DASK_SCHEDULER_ADDRESS=tcp://|DASK_SCHEDULER_ADDRESS=tls://|' "$env_file"
        {
            echo "# Mutual TLS of scheduler, workers and clients (added by install.sh)."
            echo "DASK_TLS_CA_FILE=$DASK_TLS_DIR/ca.pem"
            echo "DASK_TLS_CERT=$DASK_TLS_DIR/cert.pem"
            echo "DASK_TLS_KEY=$DASK_TLS_DIR/key.pem"
        } >> "$env_file"
    fi
    local keys="$ETC_DIR/keys/api_keys.json"
    if [ "$MODE" = full ] && [ ! -f "$keys" ]; then
        printf '{"keys": []}\n' > "$keys"
        chown "$YBB_USER:$YBB_USER" "$keys"
        chmod 0600 "$keys"
    fi
}

# The Dask cluster's mutual TLS: a CA and one certificate it signs, which the scheduler,
# the workers and the API's client all present (Dask checks the signature, not host
# names). The CA's key is not kept: nothing else can be signed with it. Made once, on the
# scheduler's host; a worker-only host needs a copy of the directory.
install_dask_tls() {
    install -d -o "$YBB_USER" -g "$YBB_USER" -m 0700 "$DASK_TLS_DIR"
    if [ -f "$DASK_TLS_DIR/ca.pem" ] && [ -f "$DASK_TLS_DIR/cert.pem" ] && [ -f "$DASK_TLS_DIR/key.pem" ]; then
        return 0
    fi
    if [ "$MODE" = worker-only ]; then
        # A worker host uses the scheduler host's set (check_worker_host insists on it).
        return 0
    fi
    log "creating the Dask cluster's CA and certificate in $DASK_TLS_DIR"
    local tmp
    tmp="$(mktemp -d)"
    if ! (
        cd "$tmp"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
            -subj "/CN=YBB Dask CA" -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" -keyout ca-key.pem -out ca.pem
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=ybb-dask" \
            -keyout key.pem -out cert.csr
        printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
            "extendedKeyUsage=serverAuth,clientAuth" > leaf.ext
        openssl x509 -req -in cert.csr -CA ca.pem -CAkey ca-key.pem -set_serial "0x$(openssl rand -hex 16)" \
            -days 3650 -extfile leaf.ext -out cert.pem
    ) >/dev/null 2>&1; then
        rm -rf "$tmp"
        die "openssl could not create the Dask TLS files"
    fi
    install -o "$YBB_USER" -g "$YBB_USER" -m 0644 "$tmp/ca.pem" "$tmp/cert.pem" "$DASK_TLS_DIR/"
    install -o "$YBB_USER" -g "$YBB_USER" -m 0600 "$tmp/key.pem" "$DASK_TLS_DIR/"
    rm -rf "$tmp"
}

install_units() {
    log "installing systemd units"
    local unit
    for unit in "$PREFIX"/deploy/systemd/*.service "$PREFIX"/deploy/systemd/*.timer \
                "$PREFIX"/deploy/systemd/*.target; do
        install -o root -g root -m 0644 "$unit" "$UNIT_DIR/"
    done
    systemctl daemon-reload
    local i workers=()
    for ((i = 1; i <= WORKERS; i++)); do workers+=("ybb-dask-worker@$i.service"); done
    if [ "$MODE" = full ]; then
        systemctl enable ybb.target ybb-api.service ybb-dask-scheduler.service \
            ybb-sweeper.timer "${workers[@]}"
    else
        systemctl enable "${workers[@]}"
    fi
    # Worker instances beyond --workers that an earlier run enabled are left alone;
    # disable them with: systemctl disable --now ybb-dask-worker@N
}

install_nginx() {
    local env_file="$ETC_DIR/nginx.env" template="$PREFIX/nginx/templates/ybb.conf.template"
    [ -f "$template" ] || die "missing $template"
    if [ ! -f "$env_file" ]; then
        local name="${SERVER_NAME:-$(hostname -f)}"
        log "creating $env_file (server name $name)"
        sed "s|^SERVER_NAMES=.*|SERVER_NAMES=$name|" "$PREFIX/deploy/systemd/nginx.env.example" > "$env_file"
        chmod 0644 "$env_file"
    elif [ -n "$SERVER_NAME" ]; then
        warn "$env_file exists; --server-name ignored (edit the file instead)"
    fi
    local htpasswd="$ETC_DIR/dask.htpasswd"
    if [ ! -f "$htpasswd" ]; then
        local password
        password="$(openssl rand -base64 18)"
        printf 'admin:%s\n' "$(openssl passwd -apr1 "$password")" > "$htpasswd"
        chown root:www-data "$htpasswd"
        chmod 0640 "$htpasswd"
        log "Dask dashboard (https://<server>/dask/): user admin, password $password"
        log "  (shown once; change with: printf 'admin:%s\\n' \"\$(openssl passwd -apr1)\" > $htpasswd)"
    fi
    install -d -o root -g root -m 0755 "$ACME_WEBROOT"

    log "rendering $NGINX_CONF"
    # envsubst replaces only the template's own ${UPPER_CASE} placeholders; nginx's
    # $variables stay as they are. Every placeholder must be set in nginx.env.
    local vars tmp
    # shellcheck disable=SC2016  # a literal ${ in the pattern
    vars="$(grep -o '\${[A-Z_][A-Z0-9_]*}' "$template" | sort -u | tr '\n' ' ')"
    tmp="$(mktemp)"
    (
        set -a
        # shellcheck disable=SC1090
        . "$env_file"
        set +a
        # nginx.env of a release before SERVER_NAMES: its one SERVER_NAME.
        if [ -z "${SERVER_NAMES+set}" ] && [ -n "${SERVER_NAME:-}" ]; then
            export SERVER_NAMES="$SERVER_NAME"
        fi
        local var missing=""
        for var in $vars; do
            var="${var#\$\{}"
            var="${var%\}}"
            [ -n "${!var+set}" ] || missing="$missing $var"
        done
        [ -z "$missing" ] || die "$env_file lacks:$missing (see $PREFIX/deploy/systemd/nginx.env.example)"
        envsubst "$vars" < "$template" > "$tmp"
    ) || { rm -f "$tmp"; exit 1; }
    install -o root -g root -m 0644 "$tmp" "$NGINX_CONF"
    rm -f "$tmp"
    # Debian's default site also claims port 80 as default_server.
    rm -f /etc/nginx/sites-enabled/default
    nginx -t
    systemctl enable nginx
    if [ "$START" -eq 1 ]; then
        systemctl reload-or-restart nginx
    fi
}

start_services() {
    [ "$START" -eq 1 ] || return 0
    log "(re)starting services"
    if [ "$MODE" = full ]; then
        systemctl restart ybb-dask-scheduler.service
        systemctl start ybb.target ybb-sweeper.timer
        systemctl restart ybb-api.service
    fi
    local i
    for ((i = 1; i <= WORKERS; i++)); do
        systemctl restart "ybb-dask-worker@$i.service"
    done
}

print_next_steps() {
    local name
    # the first of SERVER_NAMES (SERVER_NAME in an nginx.env of an earlier release)
    name="$(sed -n 's/^SERVER_NAMES\{0,1\}=//p' "$ETC_DIR/nginx.env" 2>/dev/null | head -n 1 || true)"
    name="${name//[\"\']/}"
    name="${name%% *}"
    name="${name:-ybb.example.com}"
    cat <<EOF

YBB is installed. Next steps:

 1. Settings and secrets: $ETC_DIR/ybb.env (then: systemctl restart ybb.target)
 2. Create an API key for a PHP client (printed once):
      sudo -u $YBB_USER env PYTHONPATH=$PREFIX/services/api $VENV/bin/python \\
        -m ybb_api.keys create --tenant acme --file $ETC_DIR/keys/api_keys.json
 3. TLS with Let's Encrypt (nginx already serves /.well-known/acme-challenge/
    from $ACME_WEBROOT; DNS for $name must point here, port 80 open):
      certbot certonly --webroot -w $ACME_WEBROOT -d $name \\
        --email you@example.com --agree-tos --no-eff-email
    then in $ETC_DIR/nginx.env set
      TLS_CERT=/etc/letsencrypt/live/$name/fullchain.pem
      TLS_KEY=/etc/letsencrypt/live/$name/privkey.pem
    and run: $PREFIX/deploy/install.sh --nginx-only
    Renewals: certbot's timer renews; reload nginx after each renewal with
      printf '#!/bin/sh\nsystemctl reload nginx\n' > /etc/letsencrypt/renewal-hooks/deploy/ybb-nginx.sh
      chmod +x /etc/letsencrypt/renewal-hooks/deploy/ybb-nginx.sh
 4. Optional, for source exports: the application's database. Set DB_* in $ETC_DIR/ybb.env
    (as in $PREFIX/deploy/systemd/ybb.env.example; a read-only user, docs/sources.md),
    the password in its own file:
      install -o root -g $YBB_USER -m 0640 /dev/null $ETC_DIR/db_password; sudoedit $ETC_DIR/db_password
    then: systemctl restart ybb.target (worker-only hosts need the same settings)
 5. More hosts (workers elsewhere): PostgreSQL as the job store (JOB_STORE_URL_FILE), DATA_DIR
    on NFS, then install.sh --worker-only there: $PREFIX/docs/deploy.md, section 4
 6. Check: systemctl status 'ybb-*'; curl -k https://$name/health/ready
    Logs: journalctl -u 'ybb-*' -f; nginx: /var/log/nginx/; app files: $LOG_DIR
EOF
}

check_os

# Everything a host running the API or workers needs, before its units are enabled.
install_service_host() {
    install_packages
    choose_python
    create_user
    create_dirs
    install_code
    install_venv
    install_config
    install_dask_tls
}

case "$MODE" in
    nginx-only)
        command -v envsubst >/dev/null || die "envsubst missing (apt-get install gettext-base)"
        install_nginx
        ;;
    worker-only)
        # A re-run (or a ybb.env put in place beforehand): refuse before installing anything.
        if [ -f "$ETC_DIR/ybb.env" ]; then check_worker_host; fi
        install_service_host
        check_worker_host
        install_units
        start_services
        log "worker host ready: $WORKERS worker(s) joining $(env_value DASK_SCHEDULER_ADDRESS "$ETC_DIR/ybb.env")"
        log "  check: systemctl status 'ybb-dask-worker@*'; the scheduler's dashboard (https://<api host>/dask/) lists them"
        log "source exports: workers read the database too; copy DB_* of the API host's ybb.env and $ETC_DIR/db_password"
        ;;
    full)
        install_service_host
        warn_job_store
        install_units
        install_nginx
        start_services
        print_next_steps
        ;;
esac
