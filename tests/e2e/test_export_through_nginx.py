"""One export as a PHP app makes it: HTTPS through Nginx -> Gunicorn -> Dask workers -> file."""
from __future__ import annotations

import io
from datetime import date

import pytest
import requests
from python_calamine import CalamineWorkbook

from support import wait_for

pytestmark = pytest.mark.e2e

COLUMNS = [
    {"field": "name", "header": "Name", "type": "string"},
    {"field": "age", "header": "Age", "type": "integer"},
    {"field": "amount", "header": "Amount", "type": "number"},
    {"field": "joined", "header": "Joined", "type": "date"},
    {"field": "phone", "header": "Phone", "type": "string"},
]


def _records(n: int) -> list[dict]:
    return [
        {"name": f"Participant {i} نور", "age": 18 + i % 40, "amount": round(i * 1.25, 2),
         "joined": f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}", "phone": f"0812{i:07d}"}
        for i in range(n)
    ]


def _expected_row(record: dict) -> list:
    return [record["name"], record["age"], record["amount"], date.fromisoformat(record["joined"]), record["phone"]]


def _ended(api: requests.Session, location: str) -> dict | None:
    """The job once it has ended (for wait_for), else None."""
    job = api.get(location).json()
    return job if job["state"] in {"succeeded", "failed", "cancelled"} else None


def _read_rows(content: bytes) -> list[list]:
    return CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0).to_python()


def _as_date(value):
    return value.date() if hasattr(value, "date") and callable(value.date) else value


def test_async_export_polls_and_downloads_every_cell(api: requests.Session, base_url: str) -> None:
    records = _records(1200)  # three partitions on two workers
    response = api.post(base_url + "/api/v1/exports", json={"columns": COLUMNS, "records": records,
                                                          "filename": "participants 2024"})
    assert response.status_code == 202, response.text
    assert response.headers["X-Request-Id"]
    location = response.headers["Location"]
    assert location.startswith("https://127.0.0.1:")

    job = wait_for(lambda: _ended(api, location), timeout=60, interval=0.2, message="the export did not end")
    assert job["state"] == "succeeded", job
    assert job["rows"] == 1200 and job["progress"] == 100

    download = api.get(job["links"]["file"])
    assert download.status_code == 200
    assert download.headers["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "participants_2024.xlsx" in download.headers["Content-Disposition"]
    assert int(download.headers["Content-Length"]) == job["file_size"] == len(download.content)

    rows = _read_rows(download.content)
    assert rows[0] == [c["header"] for c in COLUMNS]
    body = [[r[0], r[1], r[2], _as_date(r[3]), r[4]] for r in rows[1:]]
    assert body == [_expected_row(r) for r in records]


def test_small_export_answers_at_once_with_201(api: requests.Session, base_url: str) -> None:
    records = _records(5)
    response = api.post(base_url + "/api/v1/exports", json={"columns": COLUMNS, "records": records})
    assert response.status_code == 201, response.text
    job = response.json()
    assert job["state"] == "succeeded"
    rows = _read_rows(api.get(job["links"]["file"]).content)
    assert [[r[0], r[1], r[2], _as_date(r[3]), r[4]] for r in rows[1:]] == [_expected_row(r) for r in records]


def test_range_download_through_x_accel(api: requests.Session, base_url: str) -> None:
    job = api.post(base_url + "/api/v1/exports", json={"columns": COLUMNS, "records": _records(5)}).json()
    full = api.get(job["links"]["file"]).content
    part = api.get(job["links"]["file"], headers={"Range": "bytes=0-99"})
    assert part.status_code == 206
    assert part.content == full[:100]


def test_missing_key_is_a_json_401_with_request_id(api: requests.Session, base_url: str) -> None:
    response = requests.get(base_url + "/api/v1/exports/abc", verify=api.verify,
                            headers={"X-Request-Id": "php-req-42"})
    assert response.status_code == 401
    assert response.json() == {"code": "unauthorized", "status": 401, "errors": {}, "request_id": "php-req-42",
                               "message": "A valid API key is required (X-API-Key or Authorization: Bearer)."}
    assert response.headers["X-Request-Id"] == "php-req-42"


def test_http_redirects_to_https(stack) -> None:
    response = requests.get(f"http://127.0.0.1:{stack.config.http_port}/health", allow_redirects=False)
    assert response.status_code == 308  # keeps the method: an old PHP POST to http:// still posts
    assert response.headers["Location"] == f"https://127.0.0.1:{stack.config.https_port}/health"


def test_ready_reports_workers(api: requests.Session, base_url: str) -> None:
    def with_both_workers() -> dict | None:
        body = api.get(base_url + "/health/ready").json()
        return body if body["checks"]["cluster"]["workers"] == 2 else None

    # Waited for: a test that kills a worker (test_worker_loss.py) may have run just before,
    # and the nanny's restart takes a moment.
    body = wait_for(with_both_workers, timeout=60, interval=0.5, message="the stack does not report two Dask workers")
    assert body["status"] == "ready"
