"""Server errors that schemathesis (tests/e2e/test_schemathesis.py) or its follow-up found in the
web layer, each replayed on the bare app: every one is now a 4xx in the one error shape."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from ybb_api import create_app
from ybb_api.config import TestingConfig

COLUMNS = [{"field": "a", "header": "A", "type": "string"}]


@pytest.fixture
def admin(tmp_path: Path, keys, cluster):
    app = create_app(TestingConfig(DATA_DIR=str(tmp_path / "data"), API_KEYS_FILE=str(keys.path),
                                   DASK_SCHEDULER_ADDRESS=cluster.scheduler_address, LOG_DIR=str(tmp_path / "log")))
    client = app.test_client()
    client.environ_base["HTTP_X_API_KEY"] = keys.admin
    return client


def _validation_error(response, location: str, field: str) -> None:
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.json["code"] == "validation_error"
    assert field in response.json["errors"][location]


def test_a_log_offset_past_64_bits_is_a_422(admin) -> None:
    # Found by the fuzzer: GET /api/v1/admin/logs?offset=1277464290844396438421504 was a 500, the
    # offset echoed in the answer being past what the JSON writer takes (TypeError: Integer exceeds 64-bit range).
    _validation_error(admin.get("/api/v1/admin/logs?offset=1277464290844396438421504&limit=36"), "query", "offset")
    _validation_error(admin.get(f"/api/v1/admin/logs?offset={2**53}"), "query", "offset")
    assert admin.get(f"/api/v1/admin/logs?offset={2**53 - 1}").json["offset"] == 2**53 - 1


@pytest.mark.parametrize("since", ["1000000d", "9" * 400, "8d", "604801"])
def test_a_stats_window_past_a_week_is_a_422(admin, since: str) -> None:
    # GET /api/v1/admin/stats?since=1000000d was a 500 (OverflowError: date value out of range), and
    # since=365d took seconds to answer 53 MB of per-minute timeline.
    _validation_error(admin.get("/api/v1/admin/stats", query_string={"since": since}), "query", "since")


def test_a_stats_window_of_a_week_is_answered(admin) -> None:
    assert admin.get("/api/v1/admin/stats", query_string={"since": "7d"}).status_code == 200


@pytest.mark.parametrize("expected_rows", [2**63, 1277464290844396438421504])
def test_expected_rows_past_what_json_and_the_job_store_hold_is_a_422(client, keys, expected_rows: int) -> None:
    # POST /api/v1/exports {"upload": true, "expected_rows": 2**63} was a 500 (OverflowError: Python
    # int too large to convert to SQLite INTEGER, in the job store).
    body = json.dumps({"columns": COLUMNS, "upload": True, "expected_rows": expected_rows})
    response = client.post("/api/v1/exports", data=body, content_type="application/json",
                           headers={"X-API-Key": keys.a})
    _validation_error(response, "json", "expected_rows")


def test_expected_rows_up_to_2_to_the_53_is_taken(client, keys) -> None:
    response = client.post("/api/v1/exports", json={"columns": COLUMNS, "upload": True, "expected_rows": 2**53 - 1},
                           headers={"X-API-Key": keys.a})
    assert response.status_code == 201, response.json
