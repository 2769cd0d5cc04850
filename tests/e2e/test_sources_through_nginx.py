"""The old database route and a v1 source export through Nginx and Gunicorn to the Dask
workers, which read the session's MariaDB (the stack's SOURCE_YBB_URL)."""
from __future__ import annotations

import io

import openpyxl
import pytest
import sqlalchemy as sa
from support import wait_for

pytestmark = [pytest.mark.e2e]


def _active_in_program(mariadb, program: int) -> int:
    with sa.create_engine(mariadb.server.admin_url).connect() as connection:
        return int(connection.execute(sa.text(
            "SELECT COUNT(*) FROM participants WHERE is_active = 1 AND is_deleted = 0 AND program_id = :p"),
            {"p": program}).scalar() or 0)


def test_the_old_db_route_answers_and_its_download_url_serves_the_file(api, base_url, mariadb) -> None:
    response = api.post(f"{base_url}/api/ybb/db/export/participants",
                        json={"filters": {"program_id": 104}, "options": {"template": "standard"}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "success" and body["data"]["record_count"] == _active_in_program(mariadb, 104)
    download = api.get(f"{base_url}{body['data']['download_url']}")
    assert download.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(download.content), read_only=True).worksheets[0]
    assert len(list(sheet.iter_rows(values_only=True))) == body["data"]["record_count"] + 1
    connection = api.get(f"{base_url}/api/ybb/db/test-connection").json()
    assert connection["status"] == "success" and mariadb.server.readonly_password not in str(connection)


def test_a_v1_source_export_runs_on_the_workers(api, base_url, mariadb) -> None:
    response = api.post(f"{base_url}/api/v1/exports", json={"source": {"name": "ybb/participants",
                                                                       "params": {"program_id": 103}},
                                                            "format": "csv"})
    assert response.status_code == 202, response.text
    url = response.headers["Location"]
    job = wait_for(lambda: (j := api.get(url).json())["state"] in ("succeeded", "failed") and j, timeout=90,
                   interval=0.5, message="the source export did not end")
    assert job["state"] == "succeeded", job
    lines = api.get(f"{url}/file").text.splitlines()
    assert len(lines) == _active_in_program(mariadb, 103) + 1
