"""The old service's database routes (/api/ybb/db/...) on the bare app, with the request
shapes of its guide (YBB_DB_EXPORT_API_INTEGRATION_GUIDE.md) and its answers' keys."""
from __future__ import annotations

import csv
import io
import json

import openpyxl
import pytest
import sqlalchemy as sa

from ybb_engine.sources import connections

GUIDE_PARTICIPANTS = {  # the guide's example, with a status its code accepts
    "filters": {"program_id": 101, "status": "all", "country": "Indonesia", "date_from": "2024-01-01",
                "date_to": "2026-12-31", "has_submitted_form": "yes", "limit": 1000, "sort_by": "created_at",
                "sort_order": "desc"},
    "options": {"template": "detailed", "format": "excel", "filename": "USA_Participants_2025.xlsx",
                "sheet_name": "Participants Data", "include_related": True},
}
GUIDE_PAYMENTS = {
    "filters": {"status": "success", "payment_method_id": 1, "date_from": "2024-01-01", "date_to": "2026-12-31",
                "amount_min": 100.00, "amount_max": 500.00, "sort_by": "payment_date", "sort_order": "desc"},
    "options": {"template": "standard", "format": "excel", "filename": "Payments_Q1_2025.xlsx",
                "sheet_name": "Payment Records", "include_related": True},
}


def auth(key: str) -> dict:
    return {"X-API-Key": key}


@pytest.fixture
def ybb(ybb_source):
    return ybb_source


def _count(ybb, sql: str) -> int:
    with sa.create_engine(ybb.server.admin_url).connect() as connection:
        return int(connection.execute(sa.text(sql)).scalar() or 0)


def test_participants_export_answers_the_old_metadata_shape(client, keys, ybb) -> None:
    response = client.post("/api/ybb/db/export/participants", json=GUIDE_PARTICIPANTS, headers=auth(keys.a))
    assert response.status_code == 200, response.json
    body = response.json
    assert body["status"] == "success" and body["export_strategy"] == "single_file"
    assert set(body["data"]) >= {"export_id", "file_name", "download_url", "file_size", "file_size_mb",
                                 "record_count", "expires_at"}
    assert body["data"]["file_name"] == "USA_Participants_2025.xlsx"
    assert body["system_info"]["export_type"] == "participants" and body["system_info"]["template"] == "detailed"
    assert body["request_id"]
    expected = _count(ybb, """SELECT COUNT(DISTINCT p.id) FROM participants p
        LEFT JOIN participant_statuses ps ON p.id = ps.participant_id AND ps.is_active = 1 AND ps.is_deleted = 0
        WHERE p.is_active = 1 AND p.is_deleted = 0 AND p.program_id = 101 AND p.nationality = 'Indonesia'
        AND p.created_at >= '2024-01-01' AND p.created_at <= '2026-12-31 23:59:59' AND ps.form_status = 2""")
    assert body["data"]["record_count"] == expected > 0
    applied = body["metadata"]["filters_applied"]["applied"]
    assert applied["program_id"] == 101 and applied["has_submitted_form"] == "yes"
    download = client.get(body["data"]["download_url"], headers=auth(keys.a))
    assert download.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(download.data), read_only=True)
    assert book.sheetnames == ["Participants Data"]
    assert len(list(book.worksheets[0].iter_rows(values_only=True))) == expected + 1


def test_payments_export_and_the_file_response_mode(client, keys, ybb) -> None:
    body = {**GUIDE_PAYMENTS, "options": {**GUIDE_PAYMENTS["options"], "format": "csv", "filename": "pay.csv"},
            "response_mode": "file"}
    response = client.post("/api/ybb/db/export/payments", json=body, headers=auth(keys.a))
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.headers["Content-Disposition"] == 'attachment; filename="pay.csv"'
    metadata = json.loads(response.headers["X-Export-Metadata"])
    assert metadata["export_id"] == response.headers["X-Export-Id"] and metadata["format"] == "csv"
    assert "X-Export-Metadata" in response.headers["Access-Control-Expose-Headers"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    expected = _count(ybb, """SELECT COUNT(*) FROM payments pay WHERE pay.is_active = 1 AND pay.is_deleted = 0
        AND pay.status = 2 AND pay.payment_method_id = 1 AND pay.payment_date >= '2024-01-01'
        AND pay.payment_date <= '2026-12-31 23:59:59' AND pay.amount >= 100 AND pay.amount <= 500""")
    assert len(rows) == expected + 1 and rows[0][0] == "Payment ID"
    assert metadata["record_count"] == expected


def test_the_old_default_file_names(client, keys, ybb) -> None:
    payments = client.post("/api/ybb/db/export/payments", json={"filters": {"program_id": 102}},
                           headers=auth(keys.a)).json
    assert payments["data"]["file_name"].startswith("YBB_Payments_Export_Program102_")
    participants = client.post("/api/ybb/db/export/participants", json={"filters": {"limit": 3}},
                               headers=auth(keys.a)).json
    assert participants["data"]["file_name"].startswith("YBB_Participants_Export_")
    assert participants["data"]["record_count"] == 3


def test_no_matching_rows_is_the_old_400(client, keys, ybb) -> None:
    response = client.post("/api/ybb/db/export/participants", json={"filters": {"search": "nobody has this"}},
                           headers=auth(keys.a))
    assert response.status_code == 400
    assert response.json["status"] == "error"
    assert response.json["message"] == "No participants found matching the specified criteria"


@pytest.mark.parametrize("filters", [{"status": "approved"}, {"program_id": "101 OR 1=1"},
                                     {"sort_by": "p.id; DROP TABLE users"}])
def test_invalid_filters_are_a_400_in_the_old_error_shape(client, keys, ybb, filters) -> None:
    response = client.post("/api/ybb/db/export/participants", json={"filters": filters}, headers=auth(keys.a))
    assert response.status_code == 400
    assert response.json["status"] == "error" and response.json["request_id"]
    assert response.json["code"] == "invalid_source_params"


def test_unknown_filters_are_ignored_and_reported(client, keys, ybb) -> None:
    response = client.post("/api/ybb/db/export/participants",
                           json={"filters": {"limit": 2, "favourite_colour": "blue"}}, headers=auth(keys.a))
    assert response.status_code == 200
    assert "favourite_colour" in response.json["metadata"]["filters_applied"]["ignored"]


def test_an_unknown_template_is_the_old_400(client, keys, ybb) -> None:
    response = client.post("/api/ybb/db/export/participants", json={"options": {"template": "fancy"}},
                           headers=auth(keys.a))
    assert response.status_code == 400 and response.json["message"] == "Template 'fancy' not found for participants"


def test_statistics_answer_the_old_shape(client, keys, ybb) -> None:
    response = client.post("/api/ybb/db/export/statistics",
                           json={"export_type": "payments", "filters": {"program_id": 101}}, headers=auth(keys.a))
    assert response.status_code == 200, response.json
    data = response.json["data"]
    assert data["export_type"] == "payments" and data["filters_applied"] == {"program_id": 101}
    assert data["total_count"] == sum(row["count"] for row in data["status_breakdown"]) > 0
    bad = client.post("/api/ybb/db/export/statistics", json={"export_type": "users"}, headers=auth(keys.a))
    assert bad.status_code == 400 and bad.json["status"] == "error"


def test_test_connection_shows_no_credentials(client, keys, ybb) -> None:
    response = client.get("/api/ybb/db/test-connection", headers=auth(keys.a))
    assert response.status_code == 200
    assert response.json["status"] == "success" and response.json["database"] == ybb.server.database
    assert response.json["data"] == {"database": ybb.server.database, "host": "127.0.0.1"}
    text = response.get_data(as_text=True)
    assert ybb.server.readonly_password not in text and ybb.server.readonly_user not in text


def test_a_database_that_is_down_is_a_503_in_the_old_shape(client, keys, monkeypatch) -> None:
    connections.dispose_all()
    monkeypatch.setenv("SOURCE_YBB_URL", "mysql+pymysql://reader:pw-not-shown@127.0.0.1:1/ybb")
    for path, method in [("/api/ybb/db/export/participants", "post"), ("/api/ybb/db/export/statistics", "post"),
                         ("/api/ybb/db/test-connection", "get")]:
        response = getattr(client, method)(path, json={} if method == "post" else None, headers=auth(keys.a))
        assert response.status_code == 503, (path, response.json)
        assert response.json["status"] == "error" and response.json["request_id"]
        assert "pw-not-shown" not in response.get_data(as_text=True)


def test_the_db_routes_need_a_key(client) -> None:
    assert client.post("/api/ybb/db/export/participants", json={}).status_code == 401
    assert client.get("/api/ybb/db/test-connection").status_code == 401
