"""loadtests/soak.py (`make soak`): its sampling of process trees, its growth verdicts and its
options, without running locust (the full soak takes ~12 minutes; docs/performance.md)."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devstack import ROOT


def _soak_module():
    spec = importlib.util.spec_from_file_location("loadtest_soak", ROOT / "loadtests" / "soak.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up
    spec.loader.exec_module(module)
    return module


soak = _soak_module()


def _process(service: str, role: str, pid: int, samples: list[tuple[float, int]]):
    return soak.Process(service, role, pid, started=pid * 10, samples=samples)


def _steady(t_from: float, t_to: float, rss, step: float = 10) -> list[tuple[float, int]]:
    out, t = [], t_from
    while t <= t_to:
        out.append((t, rss(t) if callable(rss) else rss))
        t += step
    return out


def test_growth_is_the_median_at_minute_2_against_the_median_of_the_last_minute() -> None:
    t0 = 15.0  # locust started ramping 15 s after the sampling
    flat = _process("api", "gunicorn worker", 11, _steady(0, t0 + 660, 300_000))
    growing = _process("api", "gunicorn worker", 12, _steady(0, t0 + 660, lambda t: 300_000 + int(t * 100)))
    spike = _process("scheduler", "dask scheduler", 13,
                     _steady(0, t0 + 660, lambda t: 900_000 if t == 140 else 200_000))
    verdicts = {v.process.pid: v for v in soak.judge([flat, growing, spike], t0, 10, 2, 60, 10)}
    assert verdicts[11].growth == 0 and verdicts[11].note == ""
    # minute 2 is ~t=135 s (313.5 MiB), the last minute's median ~t=585 s (358.5 MiB): +14 %
    assert verdicts[12].growth == pytest.approx((300_000 + 585 * 100) / (300_000 + 135 * 100) * 100 - 100, abs=0.5)
    assert verdicts[13].growth == 0  # one sample of a spike is not the median
    assert verdicts[13].peak == 900_000
    text = soak.table(list(verdicts.values()), 2, 10, 10)
    assert "OVER" in text.splitlines()[[i for i, line in enumerate(text.splitlines()) if " 12 " in line][0]]


def test_a_replaced_worker_is_a_new_process_and_is_reported() -> None:
    t0 = 10.0
    old = _process("api", "gunicorn worker", 21, _steady(0, t0 + 300, 300_000))
    new = _process("api", "gunicorn worker", 22, _steady(t0 + 310, t0 + 660, 250_000))
    verdicts = {v.process.pid: v for v in soak.judge([old, new], t0, 10, 2, 60, 10)}
    assert verdicts[21].note == "exited at 5.0 min" and verdicts[21].growth is None
    assert verdicts[22].note == "appeared at 5.2 min" and verdicts[22].growth is None


def test_the_sampler_follows_each_service_tree_and_skips_the_supervisor(tmp_path: Path) -> None:
    script = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']); " \
             "time.sleep(30)"
    leader = subprocess.Popen([sys.executable, "-c", script])
    try:
        run_dir = tmp_path / "run"
        run_dir.mkdir()
        (run_dir / "api.pid").write_text(str(leader.pid))
        (run_dir / "devstack.pid").write_text(str(os.getpid()))
        sampler = soak.Sampler(run_dir, interval=0.1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(sampler.processes) < 2:
            sampler.sample()
            time.sleep(0.1)
        roles = sorted(p.role for p in sampler.processes.values())
        assert roles == ["gunicorn master", "gunicorn worker"]
        assert all(p.service == "api" and p.samples[0][1] > 0 for p in sampler.processes.values())
        assert os.getpid() not in {p.pid for p in sampler.processes.values()}
    finally:
        subprocess.run(["pkill", "-P", str(leader.pid)], check=False)
        leader.kill()
        leader.wait()


def test_short_runs_move_the_baseline_and_overlapping_windows_are_refused() -> None:
    args, extra = soak.parse_args(["--minutes", "3", "--users", "5", "--", "--tags", "php_small_sync"])
    assert args.baseline_minute == 1 and args.users == 5 and extra == ["--tags", "php_small_sync"]
    assert soak.parse_args([])[0].baseline_minute == 2 and soak.parse_args([])[0].max_requests == 0
    with pytest.raises(SystemExit):
        soak.parse_args(["--minutes", "2"])


def test_the_soak_imports_nothing_from_the_project() -> None:
    import ast

    names = set()
    for node in ast.walk(ast.parse((ROOT / "loadtests" / "soak.py").read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    assert names <= set(sys.stdlib_module_names) | {"__future__"}, names
