"""A Dask worker killed in the middle of an export does not fail it (issue: distributed pipeline)."""
from __future__ import annotations

import io
import signal
import time

import psutil
import pytest
import requests
from python_calamine import CalamineWorkbook

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

COLUMNS = [{"field": "n", "header": "N", "type": "integer"}, {"field": "name", "header": "Name", "type": "string"},
           {"field": "city", "header": "City", "type": "string"}]


def _worker_processes(stack) -> list[psutil.Process]:
    """The worker processes: each `dask worker` nanny's spawned child (not its resource tracker)."""
    return [child for name, proc in stack.processes.items() if name.startswith("worker-")
            for child in psutil.Process(proc.pid).children() if "spawn_main" in " ".join(child.cmdline())]


def test_killed_worker_mid_export_still_yields_a_complete_file(stack, api) -> None:
    records = [{"n": i, "name": f"Name {i}", "city": ["Jakarta", "Kairo", "Lagos"][i % 3]} for i in range(60_000)]
    # Straight to Gunicorn: polling through Nginx would meet its per-IP rate limit.
    direct = requests.Session()
    direct.headers.update(api.headers)
    gunicorn = f"http://127.0.0.1:{stack.config.api_port}"
    job = direct.post(f"{gunicorn}/api/v1/exports", json={"columns": COLUMNS, "records": records,
                                                          "mode": "async"}).json()
    status_url = f"{gunicorn}/api/v1/exports/{job['id']}"
    victims_before = _worker_processes(stack)
    assert len(victims_before) == 2

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = direct.get(status_url).json()
        if status["rows_done"] > 0 or status["state"] != "queued":
            break
        time.sleep(0.01)
    assert status["state"] == "running" and status["rows_done"] < len(records), "export ended before the kill"
    victims_before[0].send_signal(signal.SIGKILL)

    while time.monotonic() < deadline and status["state"] in {"queued", "running"}:
        time.sleep(0.2)
        status = direct.get(status_url).json()
    assert status["state"] == "succeeded", status
    assert status["rows"] == len(records)

    content = api.get(f"{stack.config.base_url}/api/v1/exports/{job['id']}/file").content  # Nginx serves files
    rows = CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0).to_python()
    assert rows[1:] == [[r["n"], r["name"], r["city"]] for r in records]

    # The nanny restarts the killed worker: the cluster is back to two workers.
    while time.monotonic() < deadline + 30 and api.get(f"{stack.config.base_url}/health/ready").json()[
            "checks"]["cluster"]["workers"] < 2:
        time.sleep(0.5)
    assert len(_worker_processes(stack)) == 2
    assert victims_before[0].pid not in {p.pid for p in _worker_processes(stack)}
