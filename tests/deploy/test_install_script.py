"""deploy/install.sh and the files it installs: syntax, shellcheck, and the nginx values
it renders the shared template with."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from deploy_helpers import NGINX_TEMPLATE, PLACEHOLDER, REPO, SYSTEMD_DIR

INSTALL = REPO / "deploy" / "install.sh"


def env_file(path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    return values


@pytest.mark.parametrize("script", [INSTALL, REPO / "scripts" / "lint_deploy.sh"], ids=lambda p: p.name)
def test_bash_syntax(script):
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and result.stderr == "", result.stderr


@pytest.mark.parametrize("script", [INSTALL, REPO / "scripts" / "lint_deploy.sh"], ids=lambda p: p.name)
def test_shellcheck(shellcheck, script):
    result = subprocess.run([str(shellcheck), "--shell=bash", str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "", result.stdout


def test_help_needs_no_root():
    result = subprocess.run(["bash", str(INSTALL), "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and "--worker-only" in result.stdout


def test_executable_with_strict_mode():
    text = INSTALL.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text
    assert INSTALL.stat().st_mode & 0o111


def test_nginx_env_covers_template():
    if not NGINX_TEMPLATE.exists():
        pytest.skip("nginx template not written yet")
    placeholders = set(PLACEHOLDER.findall(NGINX_TEMPLATE.read_text()))
    values = env_file(SYSTEMD_DIR / "nginx.env.example")
    assert placeholders - set(values) == set()
    assert values["DATA_DIR"] == env_file(SYSTEMD_DIR / "ybb.env.example")["DATA_DIR"] == "/var/lib/ybb/data"
    assert values["ACME_ROOT"] == "/var/www/certbot"
    assert values["API_UPSTREAM"] == env_file(SYSTEMD_DIR / "ybb.env.example")["GUNICORN_BIND"]


def test_ybb_env_example():
    values = env_file(SYSTEMD_DIR / "ybb.env.example")
    assert values["YBB_ENV"] == "production"
    assert values["SECRET_KEY"] == ""  # install.sh fills in a generated one
    assert values["API_KEYS_FILE"].startswith("/etc/ybb/")
    assert values["LOG_DIR"] == "/var/log/ybb"
    assert values["USE_X_ACCEL"] == "1"
    assert 's|^SECRET_KEY=.*|SECRET_KEY=$secret|' in INSTALL.read_text()


def test_rendered_systemd_site_passes_nginx_t(tmp_path):
    """Render the template as install.sh does, with nginx.env.example (file paths moved
    into tmp_path), and let nginx check it."""
    nginx = shutil.which("nginx", path="/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin")
    if not nginx or not shutil.which("envsubst") or not shutil.which("openssl"):
        pytest.skip("nginx, envsubst or openssl is not installed (Debian: nginx gettext-base openssl)")
    if not NGINX_TEMPLATE.exists():
        pytest.skip("nginx template not written yet")
    values = env_file(SYSTEMD_DIR / "nginx.env.example")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    (tmp_path / "htpasswd").write_text("admin:$apr1$x$y\n")
    (tmp_path / "data").mkdir()
    values.update(
        TLS_CERT=str(cert), TLS_KEY=str(key), TLS_DHPARAM=str(REPO / "nginx" / "ffdhe2048.pem"),
        HTPASSWD_FILE=str(tmp_path / "htpasswd"), DATA_DIR=str(tmp_path / "data"), ACME_ROOT=str(tmp_path),
        NGINX_ACCESS_LOG=str(tmp_path / "access.log"),
    )
    names = sorted(set(PLACEHOLDER.findall(NGINX_TEMPLATE.read_text())))
    rendered = subprocess.run(
        ["envsubst", " ".join(f"${{{n}}}" for n in names)], input=NGINX_TEMPLATE.read_text(),
        env={"PATH": "/usr/bin:/bin", **values}, capture_output=True, text=True, check=True,
    ).stdout
    assert not re.search(r"\$\{[A-Z_]+\}", rendered)
    site = tmp_path / "ybb.conf"
    site.write_text(rendered)
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n  client_body_temp_path {tmp_path}/body;\n  proxy_temp_path {tmp_path}/proxy;\n"
        f"  fastcgi_temp_path {tmp_path}/fastcgi;\n  uwsgi_temp_path {tmp_path}/uwsgi;\n"
        f"  scgi_temp_path {tmp_path}/scgi;\n  access_log off;\n  include {site};\n}}\n"
    )
    result = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(main)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def _install_function(name: str) -> str:
    """The text of one shell function of install.sh (to run it alone, with stubs)."""
    match = re.search(rf"^{name}\(\) {{\n.*?^}}\n", INSTALL.read_text(), re.MULTILINE | re.DOTALL)
    assert match, name
    return match.group(0)


def _run_functions(tmp_path, *names: str, call: str, **env: str) -> subprocess.CompletedProcess:
    import getpass

    stubs = ('log() { echo "log: $*"; }\nwarn() { echo "warn: $*"; }\ndie() { echo "die: $*"; exit 1; }\n'
             "set -euo pipefail\n")
    script = stubs + "".join(_install_function(n) for n in names) + call + "\n"
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "YBB_USER": getpass.getuser(), "START": "1", **env})


def test_install_makes_the_dask_tls_files_once(tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    directory = tmp_path / "dask-tls"
    result = _run_functions(tmp_path, "install_dask_tls", call="install_dask_tls",
                            DASK_TLS_DIR=str(directory), MODE="full")
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p.name for p in directory.iterdir()) == ["ca.pem", "cert.pem", "key.pem"]  # no CA key
    assert directory.stat().st_mode & 0o777 == 0o700 and (directory / "key.pem").stat().st_mode & 0o777 == 0o600
    for purpose in ("sslserver", "sslclient"):
        verified = subprocess.run(["openssl", "verify", "-purpose", purpose, "-CAfile", str(directory / "ca.pem"),
                                   str(directory / "cert.pem")], capture_output=True, text=True)
        assert verified.returncode == 0, verified.stdout + verified.stderr
    before = (directory / "cert.pem").read_bytes()
    again = _run_functions(tmp_path, "install_dask_tls", call="install_dask_tls",
                           DASK_TLS_DIR=str(directory), MODE="full")
    assert again.returncode == 0 and "creating" not in again.stdout
    assert (directory / "cert.pem").read_bytes() == before
    # a worker-only host does not make its own: it needs the scheduler host's (check_worker_host
    # refuses to enable its workers without them, see the worker-host tests below)
    worker = _run_functions(tmp_path, "install_dask_tls", call="install_dask_tls",
                            DASK_TLS_DIR=str(tmp_path / "none"), MODE="worker-only")
    assert worker.returncode == 0 and "creating" not in worker.stdout
    assert not list((tmp_path / "none").iterdir())


def test_install_upgrades_an_old_ybb_env_to_dask_tls(tmp_path):
    env = tmp_path / "ybb.env"
    env.write_text("SECRET_KEY=kept\nDASK_SCHEDULER_ADDRESS=tcp://10.0.0.10:8786\n")
    result = _run_functions(tmp_path, "install_config", call="install_config", ETC_DIR=str(tmp_path),
                            DASK_TLS_DIR="/etc/ybb/dask-tls", MODE="worker-only", PREFIX=str(REPO))
    assert result.returncode == 0, result.stdout + result.stderr
    values = env_file(env)
    assert values["SECRET_KEY"] == "kept" and values["DASK_SCHEDULER_ADDRESS"] == "tls://10.0.0.10:8786"
    assert values["DASK_TLS_KEY"] == "/etc/ybb/dask-tls/key.pem"
    text = env.read_text()
    assert _run_functions(tmp_path, "install_config", call="install_config", ETC_DIR=str(tmp_path),
                          DASK_TLS_DIR="/etc/ybb/dask-tls", MODE="worker-only").returncode == 0
    assert env.read_text() == text  # once




# -- the job store and worker-only hosts --------------------------------------------------

CHECKS = ("env_value", "fs_type", "is_shared_fs", "job_store_problems", "warn_job_store", "check_worker_host")
POSTGRES_URL = "postgresql://ybb:secret@10.0.0.10:5432/ybb"


def _worker_host(tmp_path, *, env: str | None = None, url: str | None = POSTGRES_URL, tls: bool = True,
                 scheduler: str = "tls://10.0.0.10:8786") -> dict[str, str]:
    """A worker host's /etc/ybb in tmp_path: ybb.env (JOB_STORE_URL_FILE -> a file holding `url`,
    none when url is None), the Dask TLS files; returns the environment for _run_functions."""
    etc, tls_dir, data = tmp_path / "etc", tmp_path / "etc" / "dask-tls", tmp_path / "data"
    tls_dir.mkdir(parents=True, exist_ok=True)
    data.mkdir(exist_ok=True)
    if env is None:
        env = f"DATA_DIR={data}\nDASK_SCHEDULER_ADDRESS={scheduler}\n"
        env += "".join(f"{name}={tls_dir}/{file}\n" for name, file in
                       (("DASK_TLS_CA_FILE", "ca.pem"), ("DASK_TLS_CERT", "cert.pem"), ("DASK_TLS_KEY", "key.pem")))
        if url is not None:
            (etc / "job_store_url").write_text(url + "\n")
            env += f"JOB_STORE_URL_FILE={etc}/job_store_url\n"
    (etc / "ybb.env").write_text(env)
    if tls:
        for name in ("ca.pem", "cert.pem", "key.pem"):
            (tls_dir / name).write_text("-----BEGIN PEM-----\n")
    return {"ETC_DIR": str(etc), "DASK_TLS_DIR": str(tls_dir), "DATA_DIR": str(data), "MODE": "worker-only"}


def _check(tmp_path, call="check_worker_host", **env):
    return _run_functions(tmp_path, *CHECKS, call=call, **env)


def test_worker_only_refuses_without_a_job_store_url(tmp_path):
    result = _check(tmp_path, **_worker_host(tmp_path, url=None))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "sets neither JOB_STORE_URL nor JOB_STORE_URL_FILE" in result.stdout
    assert "die: worker host not ready (1 problem(s) above)" in result.stdout
    assert "no worker was enabled" in result.stdout


def test_worker_only_accepts_postgresql_and_says_when_data_dir_is_not_shared(tmp_path):
    result = _check(tmp_path, **_worker_host(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "die:" not in result.stdout
    # tmp_path is on a local disk: the exports would be invisible to the API host
    assert "not a shared filesystem" in result.stdout
    # on NFS: no complaint at all
    nfs = _check(tmp_path, call="fs_type() { echo nfs4; }; check_worker_host", **_worker_host(tmp_path))
    assert nfs.returncode == 0 and nfs.stdout == "", nfs.stdout


@pytest.mark.parametrize("line", [f"JOB_STORE_URL={POSTGRES_URL}", f'JOB_STORE_URL="{POSTGRES_URL}"',
                                  "JOB_STORE_URL=postgresql+psycopg://u:p@db:5432/ybb"])
def test_worker_only_accepts_a_job_store_url_in_the_env_file(tmp_path, line):
    env = _worker_host(tmp_path, url=None)
    with open(Path(env["ETC_DIR"]) / "ybb.env", "a") as f:
        f.write(line + "\n")
    result = _check(tmp_path, call="fs_type() { echo nfs; }; check_worker_host", **env)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("url, message", [
    ("sqlite:////var/lib/ybb/data/jobs.sqlite3", "is an SQLite one"),
    ("mysql://u:p@db/ybb", "not a postgresql:// URL"),
    ("", "the file is missing or empty"),
])
def test_worker_only_refuses_other_job_stores(tmp_path, url, message):
    result = _check(tmp_path, **_worker_host(tmp_path, url=url))
    assert result.returncode == 1 and message in result.stdout, result.stdout


def test_worker_only_refuses_a_missing_url_file(tmp_path):
    env = _worker_host(tmp_path)
    (Path(env["ETC_DIR"]) / "job_store_url").unlink()
    result = _check(tmp_path, **env)
    assert result.returncode == 1 and "the file is missing or empty" in result.stdout


def test_worker_only_refuses_without_the_dask_tls_files(tmp_path):
    result = _check(tmp_path, **_worker_host(tmp_path, tls=False))
    assert result.returncode == 1
    for name in ("DASK_TLS_CA_FILE", "DASK_TLS_CERT", "DASK_TLS_KEY"):
        assert f"warn: {name}: " in result.stdout, name
    assert "copy ca.pem, cert.pem and key.pem from the scheduler's host" in result.stdout
    assert "(3 problem(s) above)" in result.stdout


def test_worker_only_tls_defaults_to_the_dask_tls_dir(tmp_path):
    """Without DASK_TLS_* lines the units use /etc/ybb/dask-tls/*.pem: so does the check."""
    env = _worker_host(tmp_path)
    text = (Path(env["ETC_DIR"]) / "ybb.env").read_text()
    kept = [line for line in text.splitlines() if not line.startswith("DASK_TLS")]
    (Path(env["ETC_DIR"]) / "ybb.env").write_text("".join(line + "\n" for line in kept))
    assert _check(tmp_path, **env).returncode == 0
    (Path(env["DASK_TLS_DIR"]) / "key.pem").unlink()
    result = _check(tmp_path, **env)
    assert result.returncode == 1 and f"DASK_TLS_KEY: {env['DASK_TLS_DIR']}/key.pem is missing" in result.stdout


@pytest.mark.parametrize("address", ["tls://127.0.0.1:8786", "", "tcp://10.0.0.10:8786"])
def test_worker_only_refuses_a_local_or_plain_scheduler_address(tmp_path, address):
    result = _check(tmp_path, **_worker_host(tmp_path, scheduler=address))
    assert result.returncode == 1 and "DASK_SCHEDULER_ADDRESS=" in result.stdout, result.stdout


def test_worker_only_lists_every_problem_at_once(tmp_path):
    result = _check(tmp_path, **_worker_host(tmp_path, url=None, tls=False, scheduler="tls://127.0.0.1:8786"))
    assert result.returncode == 1 and "(5 problem(s) above)" in result.stdout, result.stdout


def test_sqlite_on_a_shared_filesystem(tmp_path):
    """No JOB_STORE_URL and DATA_DIR on NFS/CIFS/FUSE: a worker-only host refuses; a full
    install warns (SQLite's WAL corrupts or fails to lock there)."""
    env = _worker_host(tmp_path, url=None)
    stub = "fs_type() { echo nfs4; }; "
    worker = _check(tmp_path, call=stub + "check_worker_host", **env)
    assert worker.returncode == 1 and "is on nfs4 and there is no JOB_STORE_URL" in worker.stdout
    full = _check(tmp_path, call=stub + "warn_job_store; echo done", **{**env, "MODE": "full"})
    assert full.returncode == 0 and "done" in full.stdout
    assert "warn: DATA_DIR" in full.stdout and "is on nfs4 and there is no JOB_STORE_URL" in full.stdout
    # a full install on a local disk: SQLite is fine, not a word
    local = _check(tmp_path, call="warn_job_store; echo done", **{**env, "MODE": "full"})
    assert local.returncode == 0 and local.stdout == "done\n", local.stdout
    # an SQLite URL on a shared DATA_DIR: warned as well
    (Path(env["ETC_DIR"]) / "ybb.env").write_text(f"DATA_DIR={env['DATA_DIR']}\nJOB_STORE_URL=sqlite:///x\n")
    sqlite = _check(tmp_path, call=stub + "warn_job_store", **{**env, "MODE": "full"})
    assert "is an SQLite one" in sqlite.stdout


@pytest.mark.parametrize("fstype, shared", [
    ("nfs", True), ("nfs4", True), ("cifs", True), ("smb3", True), ("fuse.sshfs", True), ("fuseblk", True),
    ("glusterfs", True), ("ceph", True), ("ext4", False), ("xfs", False), ("btrfs", False), ("zfs", False),
    ("tmpfs", False), ("overlay", False), ("unknown", False),
])
def test_shared_filesystems(tmp_path, fstype, shared):
    result = _run_functions(tmp_path, "is_shared_fs", call=f"is_shared_fs {fstype}")
    assert (result.returncode == 0) is shared


def test_fs_type_of_a_path_that_does_not_exist_yet(tmp_path):
    result = _run_functions(tmp_path, "fs_type", "is_shared_fs",
                            call=f"t=$(fs_type {tmp_path}/not/yet); echo \"$t\"; is_shared_fs \"$t\" || echo local")
    assert result.returncode == 0, result.stderr
    fstype, verdict = result.stdout.split()
    assert fstype and fstype != "unknown" and verdict == "local"


def test_env_value_reads_the_last_assignment_without_sourcing(tmp_path):
    env = tmp_path / "ybb.env"
    env.write_text('#JOB_STORE_URL=commented\nJOB_STORE_URL=first\nOTHER=$(touch pwned)\n'
                   'JOB_STORE_URL="second"\nJOB_STORE_URL_FILE=/x\n')
    result = _run_functions(tmp_path, "env_value", call=f"env_value JOB_STORE_URL {env}; env_value OTHER {env}; "
                            f"env_value MISSING {env}; env_value X {tmp_path}/none; echo end")
    assert result.stdout == "second\n$(touch pwned)\n\nend\n"
    assert not (tmp_path / "pwned").exists()


def test_main_flow_checks_before_enabling_workers():
    """worker-only: the check runs before anything is installed (when ybb.env exists) and
    again after install_config, in any case before install_units and start_services; a
    full install warns about SQLite on a shared DATA_DIR."""
    text = INSTALL.read_text()
    block = re.search(r"^    worker-only\)\n(.*?);;\n", text, re.MULTILINE | re.DOTALL).group(1)
    steps = [line.strip() for line in block.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert steps[0] == 'if [ -f "$ETC_DIR/ybb.env" ]; then check_worker_host; fi'
    assert steps.index("install_service_host") < steps.index("check_worker_host") < steps.index("install_units") \
        < steps.index("start_services")
    assert "mount the shared data directory" not in text  # the old closing advice, after the fact
    full = re.search(r"^    full\)\n(.*?);;\n", text, re.MULTILINE | re.DOTALL).group(1).split()
    assert full.index("install_service_host") < full.index("warn_job_store") < full.index("install_units")
    # install_config (ybb.env) comes before the check inside install_service_host
    service_host = _install_function("install_service_host")
    assert service_host.index("install_config") < service_host.index("install_dask_tls")
    assert "install_units" not in service_host


def test_create_dirs_leaves_a_mounted_share_alone():
    """root cannot chown on an NFS export with root_squash: a re-run on a worker host whose
    DATA_DIR is mounted must not try."""
    body = _install_function("create_dirs")
    assert 'is_shared_fs "$fstype"' in body
    shared, _, local = body.partition("else")
    assert '"$DATA_DIR"' in local and "install -d" not in shared.split("if is_shared_fs")[1]


def test_help_mentions_the_worker_host_requirements():
    result = subprocess.run(["bash", str(INSTALL), "--help"], capture_output=True, text=True, timeout=30)
    assert "JOB_STORE_URL" in result.stdout and "Dask TLS files" in result.stdout
