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

import pytest
import requests
from distributed import Client
from python_calamine import CalamineWorkbook
from support import wait_for
from worker_kill import kill_holder, released_tasks, wait_restarted, wait_whole

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

COLUMNS = [{"field": "n", "header": "N", "type": "integer"}, {"field": "name", "header": "Name", "type": "string"},
           {"field": "city", "header": "City", "type": "string"}]
ROWS = 60_000  # 120 partitions of the test stack's PARTITION_ROWS=500


def test_killed_worker_mid_export_still_yields_a_complete_file(stack, api) -> None:
    records = [{"n": i, "name": f"Name {i}", "city": ["Jakarta", "Kairo", "Lagos"][i % 3]} for i in range(ROWS)]
    # Straight to Gunicorn: polling through Nginx would meet its per-IP rate limit.
    direct = requests.Session()
    direct.headers.update(api.headers)
    gunicorn = f"http://127.0.0.1:{stack.config.api_port}"

    with Client(stack.config.scheduler_address, security=stack.dask_security(), set_as_default=False,
                timeout=20) as client:
        wait_whole(client, stack)

        job = direct.post(f"{gunicorn}/api/v1/exports", json={"columns": COLUMNS, "records": records,
                                                              "mode": "async"}).json()
        status_url = f"{gunicorn}/api/v1/exports/{job['id']}"

        def status_if(condition) -> dict | None:
            """The export's status when `condition(status)` holds (for wait_for)."""
            status = direct.get(status_url).json()
            return status if condition(status) else None

        victim, pid, held = kill_holder(client, stack, job["id"], lambda: bool(status_if(
            lambda s: s["state"] == "running" and s["rows_done"] < ROWS)))

        status = wait_for(lambda: status_if(lambda s: s["state"] not in {"queued", "running"}),
                          timeout=180, interval=0.2, message="the export did not end after the kill")
        assert status["state"] == "succeeded", status
        assert status["rows"] == ROWS

        # The kill hit the export: the scheduler took this export's tasks back from the dead worker.
        assert released_tasks(client, victim, job["id"]), f"{victim} held {held} when frozen, but its removal " \
            "released none of the export's tasks"

        content = api.get(f"{stack.config.base_url}/api/v1/exports/{job['id']}/file").content  # Nginx serves files
        rows = CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0).to_python()
        assert rows[1:] == [[r["n"], r["name"], r["city"]] for r in records]

        # Waited for here, so that the tests after this one find the cluster whole.
        wait_restarted(client, stack, pid)
