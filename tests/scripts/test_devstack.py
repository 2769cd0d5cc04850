"""`make run` (foreground, stopped by SIGTERM) and `make run-detached` / `make stop`."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from devstack import ROOT, render
from support import free_port, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _env(var: Path) -> dict[str, str]:
    ports = {name: str(free_port()) for name in
             ("YBB_SCHEDULER_PORT", "YBB_DASHBOARD_PORT", "YBB_API_PORT", "YBB_HTTPS_PORT", "YBB_HTTP_PORT")}
    return {**os.environ, **ports, "YBB_VAR_DIR": str(var), "YBB_DASK_WORKERS": "1", "GUNICORN_WORKERS": "1"}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_render_refuses_a_missing_placeholder() -> None:
    assert render("listen ${PORT}; $host", {"PORT": "8443"}) == "listen 8443; $host"
    with pytest.raises(KeyError, match="TLS_CERT"):
        render("ssl_certificate ${TLS_CERT};", {})


def test_run_prints_urls_and_sigterm_stops_every_process(tmp_path: Path) -> None:
    env = _env(tmp_path / "var")
    proc = subprocess.Popen([sys.executable, "scripts/devstack.py", "run"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    output = []

    def banner_printed() -> bool:
        """Reads one more line of the output: True at the banner's last line (or if run exited)."""
        line = proc.stdout.readline()
        output.append(line)
        return "Dev API key:" in line or proc.poll() is not None

    try:
        wait_for(banner_printed, timeout=120, interval=0, message=lambda: f"no banner; output: {output}")
        assert any(f"https://127.0.0.1:{env['YBB_HTTPS_PORT']}/api/v1" in line for line in output), output
        pids = [int(p.read_text()) for p in (tmp_path / "var" / "run").glob("*.pid")]
        assert len(pids) == 4  # scheduler, one worker, api, nginx
        assert all(_alive(pid) for pid in pids)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        wait_for(lambda: not [pid for pid in pids if _alive(pid)], timeout=10,
                 message=lambda: f"still alive: {[pid for pid in pids if _alive(pid)]}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


def test_detached_start_returns_when_ready_and_stop_stops(tmp_path: Path) -> None:
    env = _env(tmp_path / "var")
    started = subprocess.run([sys.executable, "scripts/devstack.py", "start"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=180)
    pids = [int(p.read_text()) for p in (tmp_path / "var" / "run").glob("*.pid")]
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert "is running" in started.stdout
        assert len(pids) == 4 and all(_alive(pid) for pid in pids)
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
