"""A Dask worker killed in the middle of a source read: the scheduler gives its range to the
other worker, which reads it again, and the file has every row once (issue 16).

The source (tests/e2e/slow_sources/slow/participants.yaml) sleeps 5 ms a row in MariaDB, so
each read of 500 rows takes seconds: the kill lands while the victim is reading, by the
construction of tests/worker_kill.py (freeze the holder of a task, then kill it)."""
from __future__ import annotations

import io

import pytest
import requests
import sqlalchemy as sa
from distributed import Client
from python_calamine import CalamineWorkbook
from support import wait_for
from worker_kill import kill_holder, released_tasks, wait_restarted, wait_whole

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_a_worker_killed_mid_read_still_yields_every_row_once(stack, api, mariadb) -> None:
    direct = requests.Session()
    direct.headers.update(api.headers)
    gunicorn = f"http://127.0.0.1:{stack.config.api_port}"
    with sa.create_engine(mariadb.server.admin_url).connect() as connection:
        expected = [row[0] for row in connection.execute(sa.text(
            "SELECT id FROM participants WHERE is_active = 1 AND is_deleted = 0 ORDER BY id"))]

    with Client(stack.config.scheduler_address, security=stack.dask_security(), set_as_default=False,
                timeout=20) as client:
        wait_whole(client, stack)
        response = direct.post(f"{gunicorn}/api/v1/exports", json={
            "source": {"name": "slow/participants", "params": {}},
            "columns": [{"field": "id", "header": "ID", "type": "integer"}, {"field": "full_name", "header": "Name"}]})
        assert response.status_code == 202, response.text
        job = response.json()
        status_url = f"{gunicorn}/api/v1/exports/{job['id']}"

        def status() -> dict:
            return direct.get(status_url).json()

        victim, pid, held = kill_holder(client, stack, job["id"], lambda: status()["state"] == "running")
        final = wait_for(lambda: (s := status())["state"] not in {"queued", "running"} and s, timeout=180,
                         interval=0.2, message="the export did not end after the kill")
        assert final["state"] == "succeeded", final
        assert released_tasks(client, victim, job["id"]), f"{victim} held {held}; its removal released none"

        content = api.get(f"{stack.config.base_url}/api/v1/exports/{job['id']}/file").content
        rows = CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0).to_python()
        assert [int(r[0]) for r in rows[1:]] == expected
        wait_restarted(client, stack, pid)
