"""`make run` (foreground, stopped by SIGTERM; it restarts the Dask processes that exit) and
`make run-detached` / `make stop`."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
from distributed import Client

from devstack import ROOT, StackConfig, make_dask_tls, render
from support import free_port, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PROCESSES = {"devstack", "scheduler", "worker-1", "api", "sweeper", "nginx"}  # the supervisor and what it started
SWEEP_INTERVAL = 1  # seconds between the sweeper's passes in these tests (600 by default)


def _env(var: Path, workers: int = 1) -> dict[str, str]:
    ports = {name: str(free_port()) for name in
             ("YBB_SCHEDULER_PORT", "YBB_DASHBOARD_PORT", "YBB_API_PORT", "YBB_HTTPS_PORT", "YBB_HTTP_PORT")}
    return {**os.environ, **ports, "YBB_VAR_DIR": str(var), "YBB_DASK_WORKERS": str(workers), "GUNICORN_WORKERS": "1",
            "YBB_SWEEP_INTERVAL": str(SWEEP_INTERVAL)}


def _pids(var: Path) -> dict[str, int]:
    return {p.stem: int(p.read_text()) for p in (var / "run").glob("*.pid")}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _sweeper_log(var: Path) -> str:
    try:
        return (var / "log" / "sweeper.log").read_text()
    except FileNotFoundError:
        return ""


def _sweeps(var: Path) -> int:
    """The passes the stack's sweeper has logged (`sweep: {'expired': 0, ...}`)."""
    return _sweeper_log(var).count("sweep: {'expired'")


def test_render_refuses_a_missing_placeholder() -> None:
    assert render("listen ${PORT}; $host", {"PORT": "8443"}) == "listen 8443; $host"
    with pytest.raises(KeyError, match="TLS_CERT"):
        render("ssl_certificate ${TLS_CERT};", {})


def test_run_prints_urls_and_sigterm_stops_every_process(tmp_path: Path) -> None:
    env = _env(tmp_path / "var")
    proc = subprocess.Popen([sys.executable, "scripts/devstack.py", "run"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    output: list[str] = []
    pids: list[int] = []

    def banner_printed() -> bool:
        """Reads one more line of the output: True at the banner's last line (or if run exited)."""
        line = proc.stdout.readline()
        output.append(line)
        return "Dev API key:" in line or proc.poll() is not None

    try:
        wait_for(banner_printed, timeout=120, interval=0, message=lambda: f"no banner; output: {output}")
        assert any(f"https://127.0.0.1:{env['YBB_HTTPS_PORT']}/api/v1" in line for line in output), output
        by_name = _pids(tmp_path / "var")
        assert set(by_name) == PROCESSES and by_name["devstack"] == proc.pid
        pids += by_name.values()
        assert all(_alive(pid) for pid in pids)
        wait_for(lambda: _sweeps(tmp_path / "var") >= 2, timeout=60,
                 message=lambda: f"the sweeper did not sweep twice: {_sweeper_log(tmp_path / 'var')[-3000:]}")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        wait_for(lambda: not [pid for pid in pids if _alive(pid)], timeout=10,
                 message=lambda: f"still alive: {[pid for pid in pids if _alive(pid)]}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in pids:  # a failed check must not leave the stack's processes running (nor nginx's workers)
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def test_detached_start_returns_when_ready_and_stop_stops(tmp_path: Path) -> None:
    env = _env(tmp_path / "var")
    started = subprocess.run([sys.executable, "scripts/devstack.py", "start"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=180)
    by_name = _pids(tmp_path / "var")
    pids = list(by_name.values())
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert "is running" in started.stdout
        # `start` leaves a supervisor behind, which restarts Dask processes as `run` does
        assert set(by_name) == PROCESSES and all(_alive(pid) for pid in pids)
        wait_for(lambda: _sweeps(tmp_path / "var") >= 1, timeout=60,
                 message=lambda: f"the detached stack's sweeper did not sweep: {_sweeper_log(tmp_path / 'var')[-3000:]}")
        again = subprocess.run([sys.executable, "scripts/devstack.py", "start"], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=60)
        assert again.returncode == 1 and "already running" in again.stderr
    finally:
        stopped = subprocess.run([sys.executable, "scripts/devstack.py", "stop"], cwd=ROOT, env=env,
                                 capture_output=True, text=True, timeout=60)
    assert stopped.returncode == 0
    wait_for(lambda: not [pid for pid in pids if _alive(pid)], timeout=10,
             message=lambda: f"still alive: {[pid for pid in pids if _alive(pid)]}")
    assert not list((tmp_path / "var" / "run").glob("*.pid"))


def test_dask_tls_files(tmp_path: Path) -> None:
    directory = tmp_path / "dask"
    assert make_dask_tls(directory) is True
    ca, cert, key = (directory / name for name in ("ca.pem", "cert.pem", "key.pem"))
    assert (directory.stat().st_mode & 0o777) == 0o700 and (key.stat().st_mode & 0o777) == 0o600
    assert sorted(p.name for p in directory.iterdir()) == ["ca.pem", "cert.pem", "key.pem"]  # no CA key kept
    verified = subprocess.run(["openssl", "verify", "-purpose", "sslclient", "-CAfile", str(ca), str(cert)],
                              capture_output=True, text=True)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    before = cert.read_bytes()
    assert make_dask_tls(directory) is False and cert.read_bytes() == before  # a valid set is kept
    ca.write_bytes(b"")  # a broken set is made anew
    assert make_dask_tls(directory) is True and cert.read_bytes() != before


class _Output:
    """Reads a process's output as it comes (a full pipe would block the stack's relay threads)."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            self.lines.append(line)

    def has(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def tail(self) -> str:
        return "".join(self.lines[-40:])


def test_run_restarts_the_scheduler_and_its_workers_after_a_crash(tmp_path: Path) -> None:
    """A SIGKILLed scheduler is started again, the workers restart with it and register with
    the new one: /health/ready answers ready with both workers. A worker that exits by
    itself, with 0 (SIGTERM) or killed, is started again too."""
    var = tmp_path / "var"
    env = _env(var, workers=2)
    config = StackConfig(var=var, scheduler_port=int(env["YBB_SCHEDULER_PORT"]))
    proc = subprocess.Popen([sys.executable, "scripts/devstack.py", "run"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    output = _Output(proc)
    http = requests.Session()
    http.trust_env = False
    http.verify = str(var / "tls" / "cert.pem")
    ready_url = f"https://127.0.0.1:{env['YBB_HTTPS_PORT']}/health/ready"

    def ready_with_both_workers() -> dict | None:
        assert proc.poll() is None, f"devstack exited with {proc.returncode}:\n{output.tail()}"
        try:  # while the scheduler is away, the API waits DASK_CONNECT_TIMEOUT (10 s) for it
            answer = http.get(ready_url, timeout=20)
        except requests.RequestException:
            return None
        body = answer.json()
        return body if answer.status_code == 200 and body["checks"]["cluster"]["workers"] == 2 else None

    def restarted(name: str, old: int) -> int | None:
        assert proc.poll() is None, f"devstack exited with {proc.returncode}:\n{output.tail()}"
        pid = _pids(var).get(name)
        return pid if pid not in (None, old) and _alive(pid) else None

    def worker_names() -> set[str]:
        with Client(config.scheduler_address, security=config.dask_security(), timeout=10,
                    set_as_default=False) as client:
            return {str(w["name"]) for w in client.scheduler_info(n_workers=-1)["workers"].values()}

    try:
        wait_for(lambda: output.has("Dev API key:") or proc.poll() is not None, timeout=120, interval=0.2,
                 message=lambda: f"no banner; output:\n{output.tail()}")
        wait_for(ready_with_both_workers, timeout=60, interval=0.2, message="the stack is not ready")
        before = _pids(var)

        os.kill(before["scheduler"], signal.SIGKILL)
        wait_for(lambda: restarted("scheduler", before["scheduler"]), timeout=30, interval=0.2,
                 message=lambda: f"the scheduler was not started again:\n{output.tail()}")
        wait_for(ready_with_both_workers, timeout=90, interval=0.5,
                 message=lambda: f"not ready again after the scheduler's restart:\n{output.tail()}")
        after = _pids(var)
        assert after["worker-1"] != before["worker-1"] and after["worker-2"] != before["worker-2"]
        assert after["api"] == before["api"] and after["nginx"] == before["nginx"]
        assert worker_names() == {"worker-1", "worker-2"}

        os.kill(after["sweeper"], signal.SIGKILL)  # the sweeper is supervised too
        wait_for(lambda: restarted("sweeper", after["sweeper"]), timeout=30, interval=0.2,
                 message=lambda: f"the sweeper was not started again:\n{output.tail()}")
        swept = _sweeps(var)
        wait_for(lambda: _sweeps(var) > swept, timeout=60, message="the restarted sweeper does not sweep")
        assert output.has("devstack: sweeper exited with -9")

        os.kill(after["worker-1"], signal.SIGTERM)  # a clean exit (0) counts too
        os.kill(after["worker-2"], signal.SIGKILL)
        for name in ("worker-1", "worker-2"):
            wait_for(lambda n=name: restarted(n, after[n]), timeout=30, interval=0.2,
                     message=lambda n=name: f"{n} was not started again:\n{output.tail()}")
        wait_for(ready_with_both_workers, timeout=90, interval=0.5,
                 message=lambda: f"not ready again after the workers' exits:\n{output.tail()}")
        assert output.has("devstack: scheduler exited with -9")
        assert output.has("devstack: worker-1 exited with 0") and output.has("devstack: worker-2 exited with -9")

        last = list(_pids(var).values())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        wait_for(lambda: not [pid for pid in last if _alive(pid)], timeout=10,
                 message=lambda: f"still alive: {[pid for pid in last if _alive(pid)]}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in _pids(var).values():  # what a failed run left behind
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
