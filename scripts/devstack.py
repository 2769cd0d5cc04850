"""Run the whole stack on loopback: Dask scheduler, Dask workers, Gunicorn, Nginx and the sweeper.

    python scripts/devstack.py run        # foreground; Ctrl-C or SIGTERM stops everything
    python scripts/devstack.py start      # background; PID files under var/run; returns when ready
    python scripts/devstack.py stop
    python scripts/devstack.py key NAME   # print a new API key for tenant NAME
    python scripts/devstack.py dask-tls DIR   # a CA and a certificate for Dask's mutual TLS in DIR

`make run`, `make run-detached`, `make stop`, `make key` and the end-to-end tests all use
this module, so what the tests start is what a developer runs. Ports come from the
environment (see README, "Ports").

The Dask scheduler, workers and the API's client speak mutual TLS (`tls://`) with a CA and
certificate made under var/tls/dask/, so nothing else on the host can submit work. While
the stack runs (`run`, and `start`, whose supervisor stays in the background), the
scheduler and the workers are started again whenever they exit, whatever their exit
status; a restarted scheduler restarts the workers with it (as deploy/systemd does). So is
the sweeper (`python -m ybb_api.sweeper --every YBB_SWEEP_INTERVAL`, 600 s by default).
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
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

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


DASK_TLS_FILES = ("ca.pem", "cert.pem", "key.pem")
_LEAF_EXTENSIONS = ("basicConstraints=critical,CA:FALSE\n"
                    "keyUsage=critical,digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth,clientAuth\n")


def make_dask_tls(directory: Path, days: int = 825) -> bool:
    """Make `directory`/ca.pem, cert.pem and key.pem (0600) for Dask's mutual TLS, unless a
    set is there that is valid for another day. Returns whether it made a new set.

    One certificate, signed by the CA, serves the scheduler, the workers and the clients:
    each presents it and accepts only peers whose certificate that CA signed (Dask checks
    the signature, not host names, so it fits every host). The CA's own key is thrown away
    once it has signed: nothing else can be signed with it; to add a host, copy the set."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    ca, cert, key = (directory / name for name in DASK_TLS_FILES)
    if ca.exists() and cert.exists() and key.exists():
        tomorrow = str(int(time.time()) + 86_400)
        check = subprocess.run(["openssl", "verify", "-CAfile", str(ca), "-attime", tomorrow, str(cert)],
                               capture_output=True)
        if check.returncode == 0:
            return False
    ec_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    with tempfile.TemporaryDirectory(dir=directory) as work:
        tmp = Path(work)

        def openssl(*args: str | Path) -> None:
            subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)

        openssl("req", "-x509", *ec_key, "-days", str(days), "-subj", "/CN=YBB Dask CA",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                "-keyout", tmp / "ca-key.pem", "-out", tmp / "ca.pem")
        openssl("req", "-new", *ec_key, "-subj", "/CN=ybb-dask", "-keyout", tmp / "key.pem", "-out", tmp / "cert.csr")
        (tmp / "leaf.ext").write_text(_LEAF_EXTENSIONS)
        openssl("x509", "-req", "-in", tmp / "cert.csr", "-CA", tmp / "ca.pem", "-CAkey", tmp / "ca-key.pem",
                "-set_serial", f"0x{secrets.token_hex(16)}", "-days", str(days), "-extfile", tmp / "leaf.ext",
                "-out", tmp / "cert.pem")
        (tmp / "key.pem").chmod(0o600)
        for name in ("key.pem", "cert.pem", "ca.pem"):
            os.replace(tmp / name, directory / name)
    return True


@dataclass
class StackConfig:
    var: Path = ROOT / "var"
    host: str = "127.0.0.1"
    # The scheduler's own address, when workers on other hosts must reach it (default: host).
    scheduler_host: str | None = None
    scheduler_port: int = 8786
    dashboard_port: int = 8787
    api_port: int = 8000
    https_port: int = 8443
    http_port: int = 8080
    workers: int = 2
    gunicorn_workers: int = 8
    use_nginx: bool = True
    # Host names the API's Nginx server answers; any other Host gets a JSON 421.
    server_names: str = "127.0.0.1 localhost"
    sweep_interval: float = 600  # seconds between the sweeper's passes (its first pass runs at start)
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
            server_names=e.get("YBB_SERVER_NAMES", "127.0.0.1 localhost"),
            sweep_interval=float(e.get("YBB_SWEEP_INTERVAL", 600)),
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

    @property
    def dask_tls_dir(self) -> Path:
        return (self.var / "tls" / "dask").resolve()

    @property
    def dask_ca(self) -> Path:
        return self.dask_tls_dir / "ca.pem"

    @property
    def dask_cert(self) -> Path:
        return self.dask_tls_dir / "cert.pem"

    @property
    def dask_key(self) -> Path:
        return self.dask_tls_dir / "key.pem"

    @property
    def scheduler_address(self) -> str:
        return f"tls://{self.scheduler_host or self.host}:{self.scheduler_port}"

    def dask_security(self) -> Any:
        """distributed's Security for a client of this stack's scheduler (tests, the benchmark):
        the stack's own certificate, TLS required."""
        from distributed.security import Security

        return Security(tls_ca_file=str(self.dask_ca), tls_client_cert=str(self.dask_cert),
                        tls_client_key=str(self.dask_key), require_encryption=True)


# Supervision: a Dask process that exits is started again, unless it exited this many times
# within the window (then the stack stops, as systemd's start limit would).
RESTART_BURST = 5
RESTART_WINDOW = 60.0


def _supervised(name: str) -> bool:
    """The processes `make run` starts again when they exit: the scheduler, the workers, the sweeper."""
    return name in ("scheduler", "sweeper") or name.startswith("worker-")


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
        self._logs: dict[str, IO[bytes]] = {}
        self._commands: dict[str, list[str]] = {}
        self._env: dict[str, str] = {}
        self._echo = False
        self._restarts: dict[str, list[float]] = {}

    def dask_security(self) -> Any:
        return self.config.dask_security()

    # -- preparation -------------------------------------------------------------------
    def prepare(self) -> None:
        c = self.config
        for sub in ("tls", "data", "log", "run", "nginx", "acme"):
            (c.var / sub).mkdir(parents=True, exist_ok=True)
        self._ensure_certificate()
        make_dask_tls(c.dask_tls_dir)
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
            "SERVER_NAMES": c.server_names,
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
            "DASK_SCHEDULER_ADDRESS": c.scheduler_address,
            "DASK_TLS_CA_FILE": str(c.dask_ca),
            "DASK_TLS_CERT": str(c.dask_cert),
            "DASK_TLS_KEY": str(c.dask_key),
            "DASK_CONFIG": str(ROOT / "services" / "scheduler" / "distributed.yaml"),
            "USE_X_ACCEL": "1" if c.use_nginx else "0",
            "GUNICORN_BIND": f"{c.host}:{c.api_port}",
            "GUNICORN_WORKERS": str(c.gunicorn_workers),
            "PYTHONUNBUFFERED": "1",
            **c.extra_env,
        }

    def commands(self) -> dict[str, list[str]]:
        c, py = self.config, sys.executable
        tls = ["--tls-ca-file", str(c.dask_ca), "--tls-cert", str(c.dask_cert), "--tls-key", str(c.dask_key)]
        commands = {
            # Comms over mutual TLS; the dashboard stays HTTP on loopback, behind Nginx's /dask/.
            "scheduler": [py, "-m", "dask", "scheduler", "--host", c.scheduler_host or c.host,
                          "--port", str(c.scheduler_port),
                          "--protocol", "tls", *tls,
                          "--dashboard-address", f"{c.host}:{c.dashboard_port}", "--dashboard-prefix", "/dask",
                          "--no-show"],
        }
        for n in range(1, c.workers + 1):
            commands[f"worker-{n}"] = [
                py, "-m", "dask", "worker", c.scheduler_address, *tls, "--name", f"worker-{n}", "--host", c.host,
                "--nworkers", "1", "--nthreads", "1", "--memory-limit", "2GiB",
                "--dashboard-address", f"{c.host}:0", "--preload", "worker_preload",
            ]
        commands["api"] = [py, "-m", "gunicorn", "--config", str(ROOT / "services" / "api" / "gunicorn.conf.py"),
                           "--chdir", str(ROOT / "services" / "api"), "wsgi:app"]
        # Retention (ExportService.sweep), as compose's sweeper service and systemd's timer run it.
        commands["sweeper"] = [py, "-m", "ybb_api.sweeper", "--every", f"{c.sweep_interval:g}"]
        if c.use_nginx:
            nginx = find_nginx()
            assert nginx, "nginx not found"
            commands["nginx"] = [nginx, "-c", str(c.var / "nginx" / "nginx.conf"), "-p", str(c.var / "nginx"),
                                 "-g", "daemon off;"]
        return commands

    def start(self, echo: bool = False) -> None:
        self.prepare()
        self._env = self.environment()
        self._commands = self.commands()
        self._echo = echo
        for name in self._commands:
            self._spawn(name)
            if name == "scheduler":
                self._wait_port(self.config.scheduler_port, name, host=self.config.scheduler_host)

    def _spawn(self, name: str) -> None:
        log = self._logs.get(name)
        if log is None:
            log = self._logs[name] = open(self._log_path(name), "ab")
        proc = subprocess.Popen(self._commands[name], env=self._env, stdout=subprocess.PIPE if self._echo else log,
                                stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT)
        if self._echo:
            threading.Thread(target=_relay, args=(name, proc.stdout, log), daemon=True).start()
        self.processes[name] = proc
        (self.config.var / "run" / f"{name}.pid").write_text(str(proc.pid))

    def _log_path(self, name: str) -> Path:
        return self.config.var / "log" / f"{name}.log"

    def _wait_port(self, port: int, name: str, timeout: float = 60, host: str | None = None) -> None:
        import socket

        deadline = time.monotonic() + timeout
        proc = self.processes[name]
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}; see {self._log_path(name)}")
            with socket.socket() as s:
                if s.connect_ex((host or self.config.host, port)) == 0:
                    return
            time.sleep(0.2)
        raise TimeoutError(f"{name} did not open port {port}")

    def _check_alive(self) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}; see {self._log_path(name)}")

    def supervise(self) -> list[str]:
        """One round of supervision (`run` does one a second); returns the names started again.

        A scheduler, worker or sweeper that exited, whatever its status (a `dask worker`
        whose scheduler went away exits 0), is started again; a new scheduler brings new workers,
        as systemd's PartOf= does. RuntimeError when Gunicorn or Nginx exited, or a supervised
        process exited RESTART_BURST times within RESTART_WINDOW seconds."""
        exited = {name: proc.returncode for name, proc in self.processes.items() if proc.poll() is not None}
        for name, code in exited.items():
            if not _supervised(name):
                raise RuntimeError(f"{name} exited with {code}; see {self._log_path(name)}")
        if "scheduler" in exited:
            names = ["scheduler", *(name for name in self.processes if name.startswith("worker-"))]
        else:
            names = sorted(exited)
        for name in names:
            self._restart(name, exited.get(name))
        return names

    def _restart(self, name: str, code: int | None) -> None:
        now = time.monotonic()
        recent = [t for t in self._restarts.get(name, []) if now - t < RESTART_WINDOW]
        if len(recent) >= RESTART_BURST:
            raise RuntimeError(f"{name} exited {len(recent) + 1} times within {RESTART_WINDOW:g} s; "
                               f"see {self._log_path(name)}")
        self._restarts[name] = [*recent, now]
        why = "restarts with the scheduler" if code is None else f"exited with {code}; starting it again"
        print(f"devstack: {name} {why}", flush=True)
        _end_group(self.processes[name])
        self._spawn(name)
        if name == "scheduler":
            self._wait_port(self.config.scheduler_port, name, host=self.config.scheduler_host)

    def wait_ready(self, timeout: float = 120, check: Callable[[], None] | None = None) -> dict:
        """The first ready answer of /health/ready; `check` (default: every process is alive) raises to give up."""
        url = f"{self.config.base_url}/health/ready"
        deadline, last = time.monotonic() + timeout, "no answer"
        while time.monotonic() < deadline:
            (check or self._check_alive)()
            try:
                context = ssl.create_default_context(cafile=str(self.config.cert))
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
        for log in self._logs.values():
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


def _end_group(proc: subprocess.Popen, grace: float = 10) -> None:
    """SIGTERM the process group of `proc`, whose leader may be gone already (a killed
    nanny leaves its worker process behind), and SIGKILL what is left after `grace`."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        proc.poll()
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.poll()


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
    try:  # a zombie no one has reaped yet is gone too
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def banner(stack: Stack) -> str:
    c = stack.config
    key = (c.var / "dev-api-key").read_text().strip()
    lines = [
        "YBB Data Management Service is running.",
        f"  API:             {c.base_url}/api/v1  (docs: {c.base_url}/docs)",
        f"  Dev API key:     {key}   (also in {c.var / 'dev-api-key'})",
        f"  TLS certificate: {c.cert}",
        f"  Dask scheduler:  {c.scheduler_address}  (mutual TLS; certificates in {c.dask_tls_dir})",
        f"  Sweeper:         a pass every {c.sweep_interval:g} s  ({c.var / 'log' / 'sweeper.log'})",
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


def _running(config: StackConfig) -> bool:
    return any(_alive(int(p.read_text())) for p in (config.var / "run").glob("*.pid"))


def stop_stack(config: StackConfig, timeout: float = 60) -> list[str]:
    """Stop the stack of this var directory: its supervisor first (which stops the rest, so
    nothing is restarted meanwhile), then whatever is left. Returns the names it found."""
    run_dir = config.var / "run"
    names = sorted(p.stem for p in run_dir.glob("*.pid"))
    supervisor = run_dir / "devstack.pid"
    if supervisor.exists():
        pid = int(supervisor.read_text())
        if _alive(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.1)
        supervisor.unlink(missing_ok=True)
    stop_pids({p.stem: int(p.read_text()) for p in run_dir.glob("*.pid")})
    for p in run_dir.glob("*.pid"):
        p.unlink(missing_ok=True)
    return names


def start_detached(stack: Stack, timeout: float = 180) -> int:
    """`start`: this script's `supervise` in the background (its own session, output in
    var/log/devstack.log); returns once the stack is ready."""
    config = stack.config
    (config.var / "log").mkdir(parents=True, exist_ok=True)
    log_path = config.var / "log" / "devstack.log"
    with open(log_path, "ab") as log:
        supervisor = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "supervise"], cwd=ROOT,
                                      stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)

    def supervisor_alive() -> None:
        if supervisor.poll() is not None:
            raise RuntimeError(f"the stack did not start (exit {supervisor.returncode}); see {log_path}")

    try:
        stack.wait_ready(timeout, check=supervisor_alive)
    except (RuntimeError, TimeoutError) as exc:
        print(exc, file=sys.stderr)
        stop_stack(config)
        return 1
    print(banner(stack), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the YBB stack on loopback.")
    parser.add_argument("command", choices=("run", "start", "stop", "key", "dask-tls", "supervise"),
                        help="supervise: what `start` runs in the background")
    parser.add_argument("name", nargs="?", help="for `key`: the tenant name; for `dask-tls`: the directory")
    args = parser.parse_args(argv)
    config = StackConfig.from_env()
    config.use_nginx = find_nginx() is not None
    stack = Stack(config)

    if args.command == "stop":
        print(f"stopped {', '.join(stop_stack(config)) or 'nothing'}")
        return 0
    if args.command == "key":
        if not args.name:
            parser.error("key needs a tenant name")
        sys.path[:0] = [str(ROOT / "services" / "api")]
        from ybb_api.keys import create_key

        print(create_key(config.var / "api-keys.json", args.name))
        return 0
    if args.command == "dask-tls":
        if not args.name:
            parser.error("dask-tls needs a directory")
        directory = Path(args.name)
        made = make_dask_tls(directory)
        print(f"{'made' if made else 'kept'} {', '.join(str(directory / n) for n in DASK_TLS_FILES)}")
        return 0

    if _running(config):
        print("A stack started from this directory is already running; `make stop` first.", file=sys.stderr)
        return 1
    if args.command == "start":
        return start_detached(stack)
    foreground = args.command == "run"
    # A plain flag, not a threading.Event: Event.set() in a signal handler deadlocks when the
    # signal lands while this same thread holds the Event's lock inside Event.wait().
    stopping: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: stopping.append(signum))
    (config.var / "run").mkdir(parents=True, exist_ok=True)
    (config.var / "run" / "devstack.pid").write_text(str(os.getpid()))
    try:
        stack.start(echo=foreground)
        stack.wait_ready()
    except BaseException:
        stack.stop()
        raise
    print(banner(stack), flush=True)
    while not stopping:
        try:
            stack.supervise()
        except (RuntimeError, TimeoutError) as exc:
            print(f"stopping: {exc}", file=sys.stderr, flush=True)
            stack.stop()
            return 1
        for _ in range(10):
            if stopping:
                break
            time.sleep(0.1)
    print("stopping...", flush=True)
    stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
