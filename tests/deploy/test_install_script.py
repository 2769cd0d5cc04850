"""deploy/install.sh and the files it installs: syntax, shellcheck, and the nginx values
it renders the shared template with."""
from __future__ import annotations

import re
import shutil
import subprocess

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
    # a worker-only host does not make its own: it needs the scheduler host's, and waits for them
    worker = _run_functions(tmp_path, "install_dask_tls", call='install_dask_tls; echo "START=$START"',
                            DASK_TLS_DIR=str(tmp_path / "none"), MODE="worker-only")
    assert worker.returncode == 0 and "copy ca.pem, cert.pem and key.pem" in worker.stdout
    assert "START=0" in worker.stdout and not list((tmp_path / "none").iterdir())


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

