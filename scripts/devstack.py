"""Run the whole stack on loopback: Dask scheduler, Dask workers, Gunicorn and Nginx.

    python scripts/devstack.py run        # foreground; Ctrl-C or SIGTERM stops everything
    python scripts/devstack.py start      # background; PID files under var/run; returns when ready
    python scripts/devstack.py stop
    python scripts/devstack.py key NAME   # print a new API key for tenant NAME

`make run`, `make run-detached`, `make stop`, `make key` and the end-to-end tests all use
this module, so what the tests start is what a developer runs. Ports come from the
environment (see README, "Ports").
"""
from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
NGINX_CANDIDATES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")


def render(template: str, values: dict[str, str]) -> str:
    """envsubst for ${NAME} placeholders; a placeholder without a value is an error."""
    missing = sorted({m for m in PLACEHOLDER.findall(template) if m not in values})
    if missing:
        raise KeyError(f"no value for nginx template placeholders: {', '.join(missing)}")
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def find_nginx() -> str | None:
    return shutil.which("nginx") or next((p for p in NGINX_CANDIDATES if os.access(p, os.X_OK)), None)


@dataclass
class StackConfig:
    var: Path = ROOT / "var"
    host: str = "127.0.0.1"
    scheduler_port: int = 8786
    dashboard_port: int = 8787
    api_port: int = 8000
    https_port: int = 8443
    http_port: int = 8080
    workers: int = 2
    gunicorn_workers: int = 8
    use_nginx: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)
    nginx_limits: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> StackConfig:
        e = os.environ
        return cls(
            var=Path(e.get("YBB_VAR_DIR", ROOT / "var")),
            scheduler_port=int(e.get("YBB_SCHEDULER_PORT", 8786)),
            dashboard_port=int(e.get("YBB_DASHBOARD_PORT", 8787)),
            api_port=int(e.get("YBB_API_PORT", 8000)),
            https_port=int(e.get("YBB_HTTPS_PORT", 8443)),
            http_port=int(e.get("YBB_HTTP_PORT", 8080)),
            workers=int(e.get("YBB_DASK_WORKERS", 2)),
            gunicorn_workers=int(e.get("GUNICORN_WORKERS", 8)),
        )

    @property
    def base_url(self) -> str:
        return f"https://{self.host}:{self.https_port}" if self.use_nginx else f"http://{self.host}:{self.api_port}"

    @property
    def cert(self) -> Path:
        return self.var / "tls" / "cert.pem"

    @property
    def data_dir(self) -> Path:
        return self.var / "data"


DEFAULT_LIMITS = {
    "RATE_LIMIT_PER_IP": "20r/s",
    "RATE_LIMIT_PER_KEY": "20r/s",
    "RATE_LIMIT_BURST": "40",
    "CONN_LIMIT_PER_IP": "10",
    "RETRY_AFTER_SECONDS": "1",
    "CLIENT_MAX_BODY_SIZE": "100m",
    "PROXY_TIMEOUT": "300s",
}


class Stack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.processes: dict[str, subprocess.Popen] = {}
        self._log_files: list[IO[bytes]] = []

    # -- preparation -------------------------------------------------------------------
    def prepare(self) -> None:
        c = self.config
        for sub in ("tls", "data", "log", "run", "nginx", "acme"):
            (c.var / sub).mkdir(parents=True, exist_ok=True)
        self._ensure_certificate()
        self._ensure_secret_files()
        if c.use_nginx:
            self._render_nginx()

    def _ensure_certificate(self) -> None:
        cert, key = self.config.cert, self.config.var / "tls" / "key.pem"
        if cert.exists() and key.exists():
            return
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "825", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True,
        )
        key.chmod(0o600)

    def _ensure_secret_files(self) -> None:
        sys.path[:0] = [str(ROOT / "services" / "api")]
        from ybb_api.keys import SCOPES, create_key

        var = self.config.var
        secret = var / "secret-key"
        if not secret.exists():
            secret.write_text(secrets.token_urlsafe(48))
            secret.chmod(0o600)
        dev_key = var / "dev-api-key"
        if not dev_key.exists():
            dev_key.write_text(create_key(var / "api-keys.json", "dev", SCOPES, key_id="dev"))
            dev_key.chmod(0o600)
        password = var / "dask-dashboard-password"
        if not password.exists():
            password.write_text(secrets.token_urlsafe(18))
            password.chmod(0o600)
        hashed = subprocess.run(["openssl", "passwd", "-apr1", "-stdin"], input=password.read_text(),
                                check=True, capture_output=True, text=True).stdout.strip()
        (var / "nginx" / "htpasswd").write_text(f"ybb:{hashed}\n")

    def _render_nginx(self) -> None:
        c = self.config
        nginx_dir = c.var / "nginx"
        values = {
            **DEFAULT_LIMITS,
            **c.nginx_limits,
            "NGINX_HTTP_PORT": f"{c.host}:{c.http_port}",
            "NGINX_HTTPS_PORT": f"{c.host}:{c.https_port}",
            "HTTPS_PORT_SUFFIX": "" if c.https_port == 443 else f":{c.https_port}",
            "SERVER_NAME": "localhost",
            "API_UPSTREAM": f"{c.host}:{c.api_port}",
            "DASK_DASHBOARD_UPSTREAM": f"{c.host}:{c.dashboard_port}",
            "TLS_CERT": str(c.cert),
            "TLS_KEY": str(c.var / "tls" / "key.pem"),
            "TLS_DHPARAM": str(ROOT / "nginx" / "ffdhe2048.pem"),
            "OCSP_STAPLING": "off",
            "DATA_DIR": str(c.data_dir.resolve()),
            "X_ACCEL_PREFIX": "/_protected_files",
            "HTPASSWD_FILE": str(nginx_dir / "htpasswd"),
            "ACME_ROOT": str(c.var / "acme"),
            "NGINX_ACCESS_LOG": str(c.var / "log" / "nginx-access.log"),
        }
        site = nginx_dir / "ybb.conf"
        site.write_text(render((ROOT / "nginx" / "templates" / "ybb.conf.template").read_text(), values))
        main = {
            "NGINX_USER_DIRECTIVE": "user root;" if os.geteuid() == 0 else "",
            "NGINX_RUN_DIR": str(nginx_dir),
            "NGINX_LOG_DIR": str(c.var / "log"),
            "NGINX_MIME_TYPES": "/etc/nginx/mime.types",
            "NGINX_SITE_CONF": str(site),
        }
        (nginx_dir / "nginx.conf").write_text(render((ROOT / "nginx" / "nginx.local.conf.template").read_text(), main))

    # -- processes ---------------------------------------------------------------------
    def environment(self) -> dict[str, str]:
        c = self.config
        pythonpath = os.pathsep.join(str(ROOT / "services" / d) for d in ("api", "scheduler"))
        return {
            **os.environ,
            "PYTHONPATH": pythonpath,
            "YBB_ENV": os.environ.get("YBB_ENV", "development"),
            "SECRET_KEY_FILE": str(c.var / "secret-key"),
            "API_KEYS_FILE": str(c.var / "api-keys.json"),
            "DATA_DIR": str(c.data_dir.resolve()),
            "LOG_DIR": str(c.var / "log"),
            "DASK_SCHEDULER_ADDRESS": f"tcp://{c.host}:{c.scheduler_port}",
            "DASK_CONFIG": str(ROOT / "services" / "scheduler" / "distributed.yaml"),
            "USE_X_ACCEL": "1" if c.use_nginx else "0",
            "GUNICORN_BIND": f"{c.host}:{c.api_port}",
            "GUNICORN_WORKERS": str(c.gunicorn_workers),
            "PYTHONUNBUFFERED": "1",
            **c.extra_env,
        }

    def commands(self) -> dict[str, list[str]]:
        c, py = self.config, sys.executable
        scheduler = f"tcp://{c.host}:{c.scheduler_port}"
        commands = {
            "scheduler": [py, "-m", "dask", "scheduler", "--host", c.host, "--port", str(c.scheduler_port),
                          "--dashboard-address", f"{c.host}:{c.dashboard_port}", "--dashboard-prefix", "/dask",
                          "--no-show"],
        }
        for n in range(1, c.workers + 1):
            commands[f"worker-{n}"] = [
                py, "-m", "dask", "worker", scheduler, "--name", f"worker-{n}", "--host", c.host,
                "--nworkers", "1", "--nthreads", "1", "--memory-limit", "2GiB",
                "--dashboard-address", f"{c.host}:0", "--preload", "worker_preload",
            ]
        commands["api"] = [py, "-m", "gunicorn", "--config", str(ROOT / "services" / "api" / "gunicorn.conf.py"),
                           "--chdir", str(ROOT / "services" / "api"), "wsgi:app"]
        if c.use_nginx:
            nginx = find_nginx()
            assert nginx, "nginx not found"
            commands["nginx"] = [nginx, "-c", str(c.var / "nginx" / "nginx.conf"), "-p", str(c.var / "nginx"),
                                 "-g", "daemon off;"]
        return commands

    def start(self, echo: bool = False) -> None:
        self.prepare()
        env = self.environment()
        for name, command in self.commands().items():
            log_path = self.config.var / "log" / f"{name}.log"
            log = open(log_path, "ab")
            self._log_files.append(log)
            proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE if echo else log,
                                    stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT)
            if echo:
                threading.Thread(target=_relay, args=(name, proc.stdout, log), daemon=True).start()
            self.processes[name] = proc
            (self.config.var / "run" / f"{name}.pid").write_text(str(proc.pid))
            if name == "scheduler":
                self._wait_port(self.config.scheduler_port, name)

    def _wait_port(self, port: int, name: str, timeout: float = 60) -> None:
        import socket

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            with socket.socket() as s:
                if s.connect_ex((self.config.host, port)) == 0:
                    return
            time.sleep(0.2)
        raise TimeoutError(f"{name} did not open port {port}")

    def _check_alive(self) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.config.var / 'log' / name}.log")

    def wait_ready(self, timeout: float = 120) -> dict:
        url = f"{self.config.base_url}/health/ready"
        context = ssl.create_default_context(cafile=str(self.config.cert))
        deadline, last = time.monotonic() + timeout, "no answer"
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                with urllib.request.urlopen(url, timeout=5, context=context) as response:
                    return __import__("json").loads(response.read())
            except OSError as exc:
                last = str(exc)
            time.sleep(0.5)
        raise TimeoutError(f"stack not ready after {timeout}s: {last}")

    def stop(self) -> None:
        stop_pids({name: p.pid for name, p in self.processes.items()})
        for proc in self.processes.values():
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        for log in self._log_files:
            log.close()
        for pid_file in (self.config.var / "run").glob("*.pid"):
            pid_file.unlink(missing_ok=True)


def _relay(name: str, stream: IO[bytes], log: IO[bytes]) -> None:
    for line in iter(stream.readline, b""):
        log.write(line)
        log.flush()
        sys.stdout.write(f"{name:>10} | {line.decode(errors='replace')}")
        sys.stdout.flush()


def stop_pids(pids: dict[str, int], grace: float = 15) -> None:
    """SIGTERM each process group (API and Nginx first), then SIGKILL what is left."""
    order = sorted(pids, key=lambda n: (n != "nginx", n != "api", n == "scheduler"))
    for name in order:
        try:
            os.killpg(pids[name], signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    for name in order:
        while time.monotonic() < deadline and _alive(pids[name]):
            time.sleep(0.1)
        if _alive(pids[name]):
            try:
                os.killpg(pids[name], signal.SIGKILL)
            except ProcessLookupError:
                pass


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def banner(stack: Stack) -> str:
    c = stack.config
    key = (c.var / "dev-api-key").read_text().strip()
    lines = [
        "YBB Data Management Service is running.",
        f"  API:             {c.base_url}/api/v1  (docs: {c.base_url}/docs)",
        f"  Dev API key:     {key}   (also in {c.var / 'dev-api-key'})",
        f"  TLS certificate: {c.cert}",
    ]
    if c.use_nginx:
        lines += [
            f"  HTTP redirect:   http://{c.host}:{c.http_port}",
            f"  Dask dashboard:  {c.base_url}/dask/status  (user ybb, password in {c.var / 'dask-dashboard-password'})",
            f"  Gunicorn:        http://{c.host}:{c.api_port}",
        ]
    else:
        lines.append("  WARNING: Nginx is not installed and could not be installed (not root).")
        lines.append("           The API is served directly, without TLS or rate limits. Do not expose it.")
    lines.append(f"  Logs:            {c.var / 'log'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the YBB stack on loopback.")
    parser.add_argument("command", choices=("run", "start", "stop", "key"))
    parser.add_argument("tenant", nargs="?", help="for `key`: the tenant name")
    args = parser.parse_args(argv)
    config = StackConfig.from_env()
    config.use_nginx = find_nginx() is not None
    stack = Stack(config)

    if args.command == "stop":
        pids = {p.stem: int(p.read_text()) for p in (config.var / "run").glob("*.pid")}
        stop_pids(pids)
        for p in (config.var / "run").glob("*.pid"):
            p.unlink()
        print(f"stopped {', '.join(sorted(pids)) or 'nothing'}")
        return 0
    if args.command == "key":
        if not args.tenant:
            parser.error("key needs a tenant name")
        sys.path[:0] = [str(ROOT / "services" / "api")]
        from ybb_api.keys import create_key

        print(create_key(config.var / "api-keys.json", args.tenant))
        return 0

    if any(_alive(int(p.read_text())) for p in (config.var / "run").glob("*.pid")):
        print("A stack started from this directory is already running; `make stop` first.", file=sys.stderr)
        return 1
    foreground = args.command == "run"
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    try:
        stack.start(echo=foreground)
        stack.wait_ready()
    except BaseException:
        stack.stop()
        raise
    print(banner(stack), flush=True)
    if not foreground:
        return 0
    while not stopping.is_set():
        try:
            stack._check_alive()
        except RuntimeError as exc:
            print(f"stopping: {exc}", file=sys.stderr)
            stack.stop()
            return 1
        stopping.wait(1)
    print("stopping...", flush=True)
    stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
