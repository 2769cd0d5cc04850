"""A short real run of the load-test scenarios against the shared `stack` fixture, so that
loadtests/ cannot rot.

Locust runs in its own virtualenv (.venv-locust, from loadtests/requirements.txt) and its own
process: gevent patches the standard library, so it is never imported here. The run uses
loadtests/run.py's `smoke` profile: one user per scenario, small large/batched exports (the
test stack has PARTITION_ROWS=500 and SYNC_MAX_ROWS=100, hence --php-mode sync), the latency
thresholds relaxed; the failure, 5xx and exception gates are the real ones.
"""
from __future__ import annotations

import csv
import os
import re
import subprocess
from pathlib import Path

import pytest

from devstack import ROOT, Stack
from ybb_api.keys import create_key

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LOCUST_PYTHON = Path(os.environ.get("YBB_LOCUST_PYTHON", ROOT / ".venv-locust" / "bin" / "python"))
SCENARIOS = ("php_small_sync", "large_async_50k", "batched_upload", "status_polling", "template_listing", "abuse")
# The custom events of the smoke sizes (--large-rows 2000, --batches 2 --batch-rows 1000).
EVENTS = ("php_small_sync_page", "export_2k_end_to_end", "batched_upload_2k_end_to_end")
REPORTS = ("_stats.csv", "_stats_history.csv", "_failures.csv", "_exceptions.csv", ".html", ".json")


def run_smoke(stack: Stack, tmp_path: Path) -> tuple[subprocess.CompletedProcess, Path]:
    if not LOCUST_PYTHON.exists():
        pytest.fail(f"{LOCUST_PYTHON} is missing: python3 -m venv .venv-locust && "
                    ".venv-locust/bin/pip install -r loadtests/requirements.txt (make test does it)")
    # The abuse scenario's own key, so that its bursts don't spend the dev key's per-key budget.
    abuse_key = tmp_path / "abuse-key"
    abuse_key.write_text(create_key(stack.config.var / "api-keys.json", "loadtest-abuse"))
    reports = tmp_path / "reports"
    command = [
        str(LOCUST_PYTHON), str(ROOT / "loadtests" / "run.py"), "--smoke",
        "--host", stack.config.base_url, "--ca-cert", str(stack.config.cert),
        "--api-key-file", str(stack.config.var / "dev-api-key"), "--abuse-key-file", str(abuse_key),
        "--reports", str(reports), "--stop-timeout", "40",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=150, cwd=ROOT)
    return result, reports


def test_every_scenario_runs_through_nginx_and_passes_the_gate(stack: Stack, tmp_path: Path) -> None:
    result, reports = run_smoke(stack, tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "all thresholds met (latency thresholds relaxed)" in output, output[-6000:]

    for suffix in REPORTS:
        report = reports / f"loadtest-smoke{suffix}"
        assert report.is_file() and report.stat().st_size > 0, f"{report} missing or empty"

    with open(reports / "loadtest-smoke_stats.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    counts = {row["Name"]: int(row["Request Count"]) for row in rows if row["Name"] != "Aggregated"}
    failures = {row["Name"]: int(row["Failure Count"]) for row in rows}
    for scenario in SCENARIOS:
        assert any(name.startswith(f"{scenario}:") and n for name, n in counts.items()), \
            f"scenario {scenario} made no request: {counts}"
    for event in EVENTS:
        assert counts.get(event, 0) >= 1, f"no {event} event: {counts}"
    assert failures["Aggregated"] == 0, failures

    # The abuse user met 429s (its expected answer), nobody else did, and nothing answered 5xx.
    summary = re.search(r"5xx (\d+), expected 429s \(abuse\) (\d+), honest 429s (\d+)", output)
    assert summary, output[-6000:]
    five_xx, expected_429, honest_429 = map(int, summary.groups())
    assert (five_xx, honest_429) == (0, 0)
    assert expected_429 > 0
