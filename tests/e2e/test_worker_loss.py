"""A Dask worker killed in the middle of an export does not fail it (issue: distributed pipeline).

The kill lands mid-export by construction, not by timing: the test asks the scheduler which
worker is processing one of this export's tasks (other tests' leftovers on the shared stack
don't count), freezes that worker (SIGSTOP: the tasks it holds cannot finish, so the export
cannot end before the kill), checks the scheduler still has this export's tasks on it, then
kills it (SIGKILL). Afterwards the scheduler's remove-worker event must name this export's
tasks: they were lost with the worker and run again elsewhere.
"""
from __future__ import annotations

import io
import os
import signal

import psutil
import pytest
import requests
from distributed import Client
from python_calamine import CalamineWorkbook

from support import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

COLUMNS = [{"field": "n", "header": "N", "type": "integer"}, {"field": "name", "header": "Name", "type": "string"},
           {"field": "city", "header": "City", "type": "string"}]
ROWS = 60_000  # 120 partitions of the test stack's PARTITION_ROWS=500


def _workers(client: Client) -> dict[str, dict]:
    """The scheduler's workers: address -> info (name, nthreads, ...)."""
    return client.scheduler_info(n_workers=-1)["workers"]


def _pids(client: Client, addresses) -> dict[str, int]:
    """Address -> process id of these workers (asked of each worker)."""
    return client.run(os.getpid, workers=list(addresses))


def _job_tasks(client: Client, job_id: str) -> dict[str, list[str]]:
    """Worker address -> the tasks of this export the scheduler has it processing."""
    held = {address: [key for key in keys if job_id in str(key)] for address, keys in client.processing().items()}
    return {address: keys for address, keys in held.items() if keys}


def _nanny_pids(stack) -> set[int]:
    return {proc.pid for name, proc in stack.processes.items() if name.startswith("worker-")}


def test_killed_worker_mid_export_still_yields_a_complete_file(stack, api) -> None:
    records = [{"n": i, "name": f"Name {i}", "city": ["Jakarta", "Kairo", "Lagos"][i % 3]} for i in range(ROWS)]
    # Straight to Gunicorn: polling through Nginx would meet its per-IP rate limit.
    direct = requests.Session()
    direct.headers.update(api.headers)
    gunicorn = f"http://127.0.0.1:{stack.config.api_port}"

    with Client(stack.config.scheduler_address, security=stack.dask_security(), set_as_default=False,
                timeout=20) as client:
        names = {f"worker-{n}" for n in range(1, stack.config.workers + 1)}
        wait_for(lambda: {w["name"] for w in _workers(client).values()} == names, timeout=60,
                 message=lambda: f"the cluster is not whole before the test: {_workers(client)}")

        job = direct.post(f"{gunicorn}/api/v1/exports", json={"columns": COLUMNS, "records": records,
                                                              "mode": "async"}).json()
        status_url = f"{gunicorn}/api/v1/exports/{job['id']}"

        def status_if(condition) -> dict | None:
            """The export's status when `condition(status)` holds (for wait_for)."""
            status = direct.get(status_url).json()
            return status if condition(status) else None

        victim = next(iter(wait_for(lambda: _job_tasks(client, job["id"]), timeout=60, interval=0.01,
                                    message="no worker started a task of the export")))
        pid = _pids(client, [victim])[victim]
        assert psutil.Process(pid).ppid() in _nanny_pids(stack), f"{victim} (pid {pid}) is not a worker of the stack"

        os.kill(pid, signal.SIGSTOP)
        killed = False
        try:
            # Frozen, the victim can't finish what it holds; the scheduler, told of what it
            # finished just before, gives it more of the export's tasks if it holds none.
            held = wait_for(lambda: _job_tasks(client, job["id"]).get(victim), timeout=30,
                            message=f"the frozen worker {victim} holds no task of the export")
            status = wait_for(lambda: status_if(lambda s: s["state"] == "running"), timeout=30,
                              message="the export is not running")
            assert status["rows_done"] < ROWS, status
            os.kill(pid, signal.SIGKILL)
            killed = True
        finally:
            if not killed:
                os.kill(pid, signal.SIGCONT)

        status = wait_for(lambda: status_if(lambda s: s["state"] not in {"queued", "running"}),
                          timeout=180, interval=0.2, message="the export did not end after the kill")
        assert status["state"] == "succeeded", status
        assert status["rows"] == ROWS

        # The kill hit the export: the scheduler took this export's tasks back from the dead worker.
        removals = [msg for _, msg in client.get_events(victim) if msg.get("action") == "remove-worker"]
        assert removals, f"the scheduler logged no removal of {victim}"
        lost = [key for msg in removals for key in msg["processing-tasks"] if job["id"] in str(key)]
        assert lost, f"{victim} held {held} when frozen, but its removal released none of the export's tasks"

        content = api.get(f"{stack.config.base_url}/api/v1/exports/{job['id']}/file").content  # Nginx serves files
        rows = CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0).to_python()
        assert rows[1:] == [[r["n"], r["name"], r["city"]] for r in records]

        # The nanny restarts the killed worker: the same names again, the victim's with a new
        # process. Waited for here, so that the tests after this one find the cluster whole.
        def restarted() -> dict[str, int] | None:
            workers = _workers(client)
            if {w["name"] for w in workers.values()} != names:
                return None
            pids = _pids(client, workers)
            return pids if pid not in pids.values() else None

        back = wait_for(restarted, timeout=60, interval=0.2,
                        message=lambda: f"the killed worker did not come back: {_workers(client)}")
        assert all(psutil.Process(p).ppid() in _nanny_pids(stack) for p in back.values())
