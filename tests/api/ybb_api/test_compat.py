"""The old YBB API (/api/ybb/...) on the bare app: old request shapes in, old response shapes out.
(tests/compat replays the old service's own requests through Nginx.)"""
from __future__ import annotations

import csv
import io
import time
import zipfile

import openpyxl
import pytest

from ybb_api import create_app
from ybb_api.compat import keyless_networks, prepare_records, translate_filters
from ybb_api.config import TestingConfig
from ybb_engine.templates import load_templates

PARTICIPANTS = [
    {"id": 1, "full_name": "Ayu Lestari", "email": "ayu@example.org", "nationality": "Indonesia",
     "institution": "Universitas Indonesia", "phone_number": "081234567890", "category": "fully_funded",
     "form_status": 2, "payment_status": 2, "created_at": "2024-03-02 02:03:40"},
    {"id": 2, "full_name": "Budi Santoso", "email": "budi@example.org", "nationality": "Malaysia",
     "institution": "Universiti Malaya", "phone_number": "+60123456789", "category": "self_funded",
     "form_status": 1, "payment_status": 1, "created_at": "2024-04-12 12:46:55"},
    {"id": 3, "full_name": "Chen Wei", "email": "chen@example.org", "nationality": "Indonesia",
     "institution": "ITB", "phone_number": "082233445566", "category": "self_funded",
     "form_status": 2, "payment_status": 0, "created_at": "2024-05-06 22:55:12"},
]
OLD_SUCCESS_DATA = {"export_id", "file_name", "file_size", "file_size_mb", "record_count", "download_url",
                    "expires_at", "file_url"}
OLD_STATUS_KEYS = {"status", "export_id", "export_type", "template", "record_count", "created_at", "expires_at",
                   "file_size_bytes", "file_size_mb", "processing_time_ms", "processing_time_seconds",
                   "records_per_second"}
REGISTRY = load_templates()


def auth(key: str) -> dict:
    return {"X-API-Key": key}


def columns(name: str) -> list:
    return list(REGISTRY.get(*name.split("/")).columns)


def assert_old_error(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.json
    assert body["status"] == "error" and body["success"] is False
    assert isinstance(body["message"], str) and body["message"]
    assert body["request_id"] == response.headers["X-Request-Id"]
    return body


def export(client, key: str, export_type: str = "participants", **old) -> dict:
    response = client.post(f"/api/ybb/export/{export_type}", json=old, headers=auth(key))
    assert response.status_code == 200, response.json
    return response.json


def sheet_rows(client, key: str, body: dict) -> list[tuple]:
    download = client.get(body["data"]["download_url"], headers=auth(key))
    assert download.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(download.data), read_only=True)
    return list(workbook[workbook.sheetnames[0]].iter_rows(values_only=True))


def test_old_participants_export_answers_the_old_envelope_and_the_file(client, keys) -> None:
    old_request = {"data": PARTICIPANTS, "template": "standard", "format": "excel",
                   "filename": "participants_export.xlsx", "sheet_name": "Participants"}
    response = client.post("/api/ybb/export/participants", json=old_request,
                           headers={**auth(keys.a), "X-Request-Id": "old-php-1"})
    assert response.status_code == 200, response.json
    body = response.json
    assert body["status"] == "success" and body["success"] is True and body["request_id"] == "old-php-1"
    assert body["export_strategy"] == "single_file"
    data = body["data"]
    assert OLD_SUCCESS_DATA <= set(data)
    assert data["file_name"] == "participants_export.xlsx"
    assert data["record_count"] == 3 and data["file_size"] > 0
    assert data["download_url"] == data["file_url"] == f"/api/ybb/export/{data['export_id']}/download"
    assert data["expires_at"].startswith("20")
    assert data["signed_download_url"].startswith("http")
    # The old service's own test reads system_info.format; it echoed the request's format.
    assert body["system_info"]["format"] == body["metadata"]["format"] == "excel"
    assert body["metadata"]["export_type"] == "participants" and body["metadata"]["template"] == "standard"
    assert {"total_processing_time_seconds", "processing_time_ms", "records_per_second", "memory_used_mb",
            "peak_memory_mb", "efficiency_metrics"} <= set(body["performance_metrics"])

    download = client.get(data["download_url"], headers=auth(keys.a))
    assert download.status_code == 200
    assert download.headers["Content-Disposition"] == 'attachment; filename="participants_export.xlsx"'
    assert download.headers["Cache-Control"] == "no-cache, no-store, must-revalidate"
    assert len(download.data) == data["file_size"] and download.data[:2] == b"PK"
    workbook = openpyxl.load_workbook(io.BytesIO(download.data), read_only=True)
    assert workbook.sheetnames == ["Participants"]
    rows = list(workbook["Participants"].iter_rows(values_only=True))
    assert len(rows) == 4 and "Ayu Lestari" in rows[1]

    # The new API sees the same export: it runs on the new engine.
    new = client.get(f"/api/v1/exports/{data['export_id']}", headers=auth(keys.a)).json
    assert new["state"] == "succeeded" and new["template"] == "participants/standard"


def test_values_the_old_service_passed_through_are_written_as_it_wrote_them(client, keys) -> None:
    records = [
        {"id": "P-001", "full_name": "Alice", "category": "Premium", "form_status": "approved",
         "payment_status": "success", "created_at": "26/07/2025"},
        {"id": 2, "full_name": "Bob", "category": "Fully Funded", "form_status": "pending",
         "payment_status": "Pending", "created_at": "2025-07-26 10:00:00", "nationality": None},
    ]
    body = export(client, keys.a, data=records)
    header, first, second = sheet_rows(client, keys.a, body)
    row = dict(zip(header, first))
    assert row["ID"] == "P-001" and row["Category"] == "Premium" and row["Form Status"] == "approved"
    assert row["Payment Status"] == "Success"            # a label's text is the label map's key
    assert row["Registration Date"].date().isoformat() == "2025-07-26"   # d/m/Y, written as a date
    assert row["Email"] == "N/A" and row["Country"] == "N/A"   # a field the record lacks
    row = dict(zip(header, second))
    assert row["Category"] == "Fully Funded" and row["Payment Status"] == "Pending"
    assert row["Country"] is None                          # null is an empty cell, as it was


def test_payment_methods_amounts_and_is_active_texts(client, keys) -> None:
    payments = [{"id": 1, "amount": "1,500.00", "usd_amount": 250.0, "currency": "IDR", "payment_method": "Midtrans"},
                {"id": 2, "amount": 99, "usd_amount": "1,234,567.5", "payment_method": "Bank Transfer"}]
    header, *rows = sheet_rows(client, keys.a, export(client, keys.a, "payments", data=payments))
    got = [dict(zip(header, row)) for row in rows]
    assert [r["Amount"] for r in got] == [1500, 99] and got[1]["USD Amount"] == 1234567.5
    assert [r["Payment Method"] for r in got] == ["Midtrans", "Bank Transfer"]
    ambassadors = [{"id": 1, "name": "Siti", "is_active": "active"}, {"id": 2, "name": "Rina", "is_active": 1}]
    header, *rows = sheet_rows(client, keys.a, export(client, keys.a, "ambassadors", data=ambassadors))
    assert [dict(zip(header, row))["Active Status"] for row in rows] == ["active", "Yes"]


def test_any_format_but_excel_is_csv_with_one_charset(client, keys) -> None:
    body = export(client, keys.a, data=PARTICIPANTS, format="pdf", filename="report.xlsx")
    assert body["data"]["file_name"] == "report.csv" and body["system_info"]["format"] == "pdf"
    download = client.get(body["data"]["download_url"], headers=auth(keys.a))
    assert download.headers["Content-Type"] == "text/csv; charset=utf-8"
    text = download.data.decode("utf-8")
    assert "\r\n" not in text
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][-1] == "Registration Date" and table[1][-1] == "2024-03-02" and len(table) == 4
    for name in ("excel", "Excel", "xlsx", "xls"):
        assert export(client, keys.a, data=PARTICIPANTS, format=name)["data"]["file_name"].endswith(".xlsx")


def test_default_names_are_the_old_ones(client, keys) -> None:
    body = export(client, keys.a, data=PARTICIPANTS, template="summary")
    assert body["data"]["file_name"].startswith("participants_summary_")
    assert body["data"]["file_name"].endswith(".xlsx")
    workbook = openpyxl.load_workbook(io.BytesIO(client.get(body["data"]["download_url"],
                                                            headers=auth(keys.a)).data), read_only=True)
    assert workbook.sheetnames[0].startswith("Participants ")   # "Participants Dec 2026"
    assert next(workbook.active.iter_rows(values_only=True)) == ("Name", "Email", "Country", "Category", "Status")


def test_complete_writes_the_old_files_columns(client, keys) -> None:
    record = {"id": 1, "full_name": "A", "nationality": "Indonesia", "nationality_code": "ID", "country_code": "+62"}
    header, row = sheet_rows(client, keys.a, export(client, keys.a, data=[record], template="complete"))
    assert len(header) == 38 and header.count("Country Code") == 1 and header.index("Country Code") == 9
    assert row[9] == "+62" and "ID" not in row


def test_old_filters_apply_what_maps_onto_a_column_and_report_the_rest(client, keys) -> None:
    filters = {"nationality": "Indonesia", "form_status": "Submitted", "status": "all", "program": "YBB2024",
               "currency": "USD"}
    body = export(client, keys.a, data=PARTICIPANTS, format="csv", filters=filters)
    assert body["data"]["record_count"] == 2
    assert body["metadata"]["filters_applied"] == body["system_info"]["filters_applied"] == {
        "applied": {"nationality": "Indonesia", "form_status": "Submitted"},
        "ignored": {"status": "'all' or empty: no filter", "program": "not a column of the template",
                    "currency": "not a column of the template"},
    }
    text = client.get(body["data"]["download_url"], headers=auth(keys.a)).data.decode("utf-8")
    assert [row[1] for row in csv.reader(io.StringIO(text))][1:] == ["Ayu Lestari", "Chen Wei"]


@pytest.mark.parametrize(("filters", "rows"), [
    ({"date_from": "2024-04-01", "date_to": "2024-05-06"}, 2),     # the last day is included
    ({"date_from": "01/04/2024"}, 2),
    ({"date_to": "2024-03-02"}, 1),
    ({"date_range": {"start": "2024-03-01", "end": "2024-04-30"}}, 2),
    ({"search": "CHEN"}, 1),
    ({"search": "@example.org"}, 3),
    ({"limit": 2}, 2),
    ({"limit": "1", "form_status": "all"}, 1),
    ({"form_status": [1, "2"]}, 3),
    ({"form_status": "2", "category": "self funded"}, 1),
    ({"institution": None, "id": "not a number", "created_at": "yesterday"}, 3),
])
def test_each_old_filter(client, keys, filters, rows) -> None:
    assert export(client, keys.a, data=PARTICIPANTS, filters=filters)["data"]["record_count"] == rows


def test_translate_filters_reports_every_key() -> None:
    plan = translate_filters({"form_status": [1, 2], "nationality": "Indonesia", "region": "Asia",
                              "date_from": "2024-01-01", "search": "ayu", "limit": 5, "email": "x@y.z",
                              "id": "P-1"}, columns("participants/standard"), [{"form_status": 1, "nationality": "ID"}])
    assert plan.limit == 5
    assert plan.filters == [
        {"field": "form_status", "op": "in", "value": [1, 2]},
        {"field": "nationality", "op": "eq", "value": "Indonesia"},
        {"any": [{"field": "full_name", "op": "contains", "value": "ayu"},
                 {"field": "email", "op": "contains", "value": "ayu"}]},
    ]
    assert set(plan.applied) == {"form_status", "nationality", "search", "limit"}
    assert plan.ignored == {"region": "not a column of the template", "email": "no record has this field",
                            "id": "no record has this field", "date_from": "no record has the date field 'created_at'"}
    assert translate_filters({}, columns("participants/standard"), []).report() == {"applied": {}, "ignored": {}}
    summary = translate_filters({"date_to": "2024-01-01"}, columns("participants/summary"), [{"created_at": 1}])
    assert summary.filters == [] and summary.ignored == {"date_to": "the template has no date column"}


def test_a_status_filter_applies_only_a_value_of_the_column() -> None:
    detailed = columns("payments/detailed")
    numeric = [{"status": 2}, {"status": 1}]
    ignored = translate_filters({"status": "completed"}, detailed, numeric)
    assert ignored.filters == [] and ignored.ignored["status"].startswith("not a value of this column")
    assert translate_filters({"status": "SUCCESS"}, detailed, numeric).filters == [
        {"field": "status", "op": "eq", "value": "2"}]
    texts = [{"status": "completed"}, {"status": 2}]
    assert translate_filters({"status": "completed"}, detailed, texts).filters == [
        {"field": "status", "op": "eq", "value": "completed"}]
    assert translate_filters({"status": ["completed", "pending"]}, detailed, numeric).filters == [
        {"field": "status", "op": "in", "value": ["1"]}]


def test_prepare_records_makes_old_values_readable() -> None:
    records = [{"id": 1, "amount": "1,500.00", "payment_date": "5/7/2025", "status": "SUCCESS",
                "payment_method": "midtrans"}, {"status": "done", "payment_date": "31/02/2025"}]
    prepare_records(records, columns("payments/detailed"))
    assert records[0]["amount"] == "1500.00" and records[0]["payment_date"] == "2025-07-05"
    assert records[0]["status"] == "2" and records[0]["payment_method"] == "1"
    assert records[0]["proof_url"] == "N/A" and records[1]["id"] == "N/A"
    assert records[1]["status"] == "done" and records[1]["payment_date"] == "31/02/2025"  # kept as text


def test_payments_and_ambassadors_routes_use_their_templates(client, keys) -> None:
    body = export(client, keys.a, "payments", data=[{"id": 1, "amount": 150000, "currency": "IDR", "status": 2}],
                  template="detailed")
    assert body["metadata"]["template"] == "detailed"
    body = export(client, keys.a, "ambassadors", data=[{"id": 1, "name": "Siti", "email": "siti@example.org"}])
    assert body["metadata"]["export_type"] == "ambassadors"
    assert sheet_rows(client, keys.a, body)[0][:4] == ("ID", "Ambassador Name", "Email", "Reference Code")


def test_status_answers_the_old_flat_shape(client, keys, app) -> None:
    export_id = export(client, keys.a, data=PARTICIPANTS)["data"]["export_id"]
    response = client.get(f"/api/ybb/export/{export_id}/status", headers=auth(keys.a))
    assert response.status_code == 200
    status = response.json
    assert OLD_STATUS_KEYS <= set(status)
    assert status["status"] == "success" and status["success"] is True and status["export_id"] == export_id
    assert status["export_type"] == "participants" and status["template"] == "standard"
    assert status["record_count"] == 3 and status["export_status"] == "succeeded" and status["progress"] == 100
    assert status["file_size_bytes"] == status["file_size"] > 0 and status["processing_time_ms"] >= 0
    assert status["data"]["status"] == "success" and status["data"]["filename"] == status["file_name"]
    app.extensions["ybb_service"].sweep(now=time.time() + 10 * 86_400)
    expired = assert_old_error(client.get(f"/api/ybb/export/{export_id}/status", headers=auth(keys.a)), 404)
    assert expired["message"] == "Export has expired"
    gone = assert_old_error(client.get(f"/api/ybb/export/{export_id}/download", headers=auth(keys.a)), 404)
    assert gone["message"] == "Export file not found or expired"


def test_zip_and_batch_downloads(client, keys) -> None:
    body = export(client, keys.a, data=PARTICIPANTS, filename="Summit 2025.xlsx")
    export_id, name = body["data"]["export_id"], body["data"]["file_name"]
    plain = client.get(f"/api/ybb/export/{export_id}/download", headers=auth(keys.a)).data
    for path in (f"/api/ybb/export/{export_id}/download/zip", f"/api/ybb/export/{export_id}/download?type=zip"):
        response = client.get(path, headers=auth(keys.a))
        assert response.status_code == 200 and response.headers["Content-Type"] == "application/zip"
        assert response.headers["Content-Disposition"] == 'attachment; filename="Summit_2025_complete_export.zip"'
        archive = zipfile.ZipFile(io.BytesIO(response.data))
        assert archive.namelist() == [name] and archive.read(name) == plain
    assert client.get(f"/api/ybb/export/{export_id}/download/batch/1", headers=auth(keys.a)).data == plain
    missing = assert_old_error(client.get(f"/api/ybb/export/{export_id}/download/batch/2", headers=auth(keys.a)), 404)
    assert missing["message"] == "Batch file 2 not found or expired"
    assert_old_error(client.get("/api/ybb/export/nope/download/zip", headers=auth(keys.a)), 404)


def test_templates_list_every_type_with_the_old_entries(client, keys) -> None:
    response = client.get("/api/ybb/templates", headers=auth(keys.a))
    assert response.status_code == 200
    body = response.json
    assert body["status"] == "success"
    assert {"participants", "payments", "ambassadors"} == set(body["data"])
    assert {"standard", "detailed", "summary", "complete"} == set(body["data"]["participants"])
    standard = body["data"]["participants"]["standard"]
    assert standard["name"] == "standard" and len(standard["fields"]) == len(standard["headers"]) > 0
    assert standard["includes_sensitive_data"] is False
    one = client.get("/api/ybb/templates/payments", headers=auth(keys.a)).json
    assert one["export_type"] == "payments" and set(one["data"]) == {"standard", "detailed"}
    assert one["data"]["standard"]["headers"][:3] == ["Payment ID", "Participant Name", "Email"]
    unknown = assert_old_error(client.get("/api/ybb/templates/invoices", headers=auth(keys.a)), 404)
    assert unknown["message"] == "Export type 'invoices' not found"


def test_status_mappings_system_config_and_storage(client, keys) -> None:
    mappings = client.get("/api/ybb/status-mappings", headers=auth(keys.a)).json["data"]
    assert mappings["form_status"] == {"0": "Not Started", "1": "In Progress", "2": "Submitted"}
    assert mappings["boolean_status"] == {"0": "No", "1": "Yes"}
    assert set(mappings) == {"form_status", "payment_status", "payment_method", "boolean_status", "category"}
    config = client.get("/api/ybb/system-config", headers=auth(keys.a)).json["data"]
    assert {"limits", "chunk_sizes", "performance"} == set(config)
    assert config["limits"]["file_retention_days"] == 1 and config["limits"]["max_file_size_mb"] == 100
    export(client, keys.a, data=PARTICIPANTS)
    storage = client.get("/api/ybb/storage/info", headers=auth(keys.a)).json
    assert storage["data"]["total_exports"] == storage["total_exports"] == 1
    assert storage["data"]["total_files"] == 1 and storage["total_size_bytes"] > 0
    assert client.get("/api/ybb/storage/info", headers=auth(keys.b)).json["total_exports"] == 0


def test_cleanup_runs_the_sweeper_for_admins(client, keys, app) -> None:
    export_id = export(client, keys.a, data=PARTICIPANTS)["data"]["export_id"]
    refused = assert_old_error(client.post("/api/ybb/cleanup", json={}, headers=auth(keys.a)), 403)
    assert refused["code"] == "forbidden"
    service = app.extensions["ybb_service"]
    service.store.update(export_id, expires_at=time.time() - 1)
    response = client.post("/api/ybb/cleanup", json={"type": "expired"}, headers=auth(keys.admin))
    assert response.status_code == 200, response.json
    assert response.json["cleaned_count"] == 1 and response.json["message"] == "Cleaned up 1 expired exports"
    assert service.get(export_id).state.value == "expired"
    force = client.post("/api/ybb/cleanup/force", headers=auth(keys.admin)).json
    assert force["status"] == "success" and force["files_removed"] == 0


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"data": []}, "No data provided for export"),
        ({"template": "standard"}, "data"),
        ({"data": [1, 2]}, "data"),
        ({"data": PARTICIPANTS, "template": "fancy"}, "Template 'fancy' not found for participants"),
        ({"data": PARTICIPANTS, "filename": "../../etc/passwd"}, "potentially dangerous pattern: ../"),
        ({"data": PARTICIPANTS, "filename": "  "}, "Filename cannot be empty"),
        ({"data": PARTICIPANTS, "sheet_name": "a/b"}, "Sheet name cannot contain character: /"),
    ],
)
def test_invalid_old_requests_answer_400_in_the_old_error_shape(client, keys, body, fragment) -> None:
    response = client.post("/api/ybb/export/participants", json=body, headers=auth(keys.a))
    error = assert_old_error(response, 400)
    assert fragment in error["message"]


def test_filters_the_old_service_took_are_no_longer_refused(client, keys) -> None:
    for filters in ({"no_such_field": 1}, {"id": {"gt": 1}}, {"created_at": ["x"]}, {"form_status": []}):
        assert export(client, keys.a, data=PARTICIPANTS, filters=filters)["data"]["record_count"] == 3


def test_errors_unknown_exports_other_tenants_and_bad_json(client, keys) -> None:
    assert assert_old_error(client.get("/api/ybb/export/nope/status", headers=auth(keys.a)),
                            404)["message"] == "Export not found"
    assert_old_error(client.get("/api/ybb/export/nope/download", headers=auth(keys.a)), 404)
    export_id = export(client, keys.a, data=PARTICIPANTS)["data"]["export_id"]
    assert_old_error(client.get(f"/api/ybb/export/{export_id}/status", headers=auth(keys.b)), 404)
    assert client.get(f"/api/ybb/export/{export_id}/status", headers=auth(keys.admin)).status_code == 200
    bad_json = client.post("/api/ybb/export/participants", data=b"{not json",
                           headers={**auth(keys.a), "Content-Type": "application/json"})
    assert assert_old_error(bad_json, 400)["code"] == "invalid_json"
    upload = client.post("/api/v1/exports", json={"template": "participants/standard", "upload": True},
                         headers=auth(keys.a)).json
    assert assert_old_error(client.get(f"/api/ybb/export/{upload['id']}/download", headers=auth(keys.a)),
                            409)["code"] == "not_ready"
    status = client.get(f"/api/ybb/export/{upload['id']}/status", headers=auth(keys.a)).json
    assert status["status"] == "processing" and status["download_url"] is None
    # Not one of the three export types: no such route.
    assert client.post("/api/ybb/export/invoices", json={"data": PARTICIPANTS}, headers=auth(keys.a)).status_code == 404


def test_a_key_is_required_by_default(client, keys) -> None:
    for response in (
        client.post("/api/ybb/export/participants", json={"data": PARTICIPANTS}),
        client.get("/api/ybb/templates"),
        client.get("/api/ybb/status-mappings"),
        client.get("/api/ybb/templates", headers=auth("ybb_wrong")),
        client.get("/api/ybb/export/x/status", headers={"Authorization": "Bearer ybb_wrong"}),
    ):
        assert assert_old_error(response, 401)["code"] == "unauthorized"
    read_only = client.post("/api/ybb/export/participants", json={"data": PARTICIPANTS}, headers=auth(keys.read_only))
    assert assert_old_error(read_only, 403)["code"] == "forbidden"


def test_health_and_root_answer_what_the_old_checks_read(client) -> None:
    health = client.get("/health").json
    assert health["status"] == "healthy" and health["version"] == "1.0.0"
    assert {"timestamp", "service", "request_id"} <= set(health)
    root = client.get("/").json
    assert root["status"] == "running" and "/api/ybb/export/participants" in root["endpoints"]


@pytest.fixture
def keyless_app(tmp_path, keys, cluster):
    return create_app(TestingConfig(
        DATA_DIR=str(tmp_path / "data"), API_KEYS_FILE=str(keys.path),
        DASK_SCHEDULER_ADDRESS=cluster.scheduler_address, PARTITION_ROWS=50,
        COMPAT_KEYLESS_IPS="10.1.0.0/16, 192.0.2.7", COMPAT_TENANT="old-php",
    ))


def test_keyless_access_from_listed_addresses_only(keyless_app, keys) -> None:
    client = keyless_app.test_client()
    listed = {"REMOTE_ADDR": "10.1.2.3"}
    response = client.post("/api/ybb/export/participants", json={"data": PARTICIPANTS}, environ_base=listed)
    assert response.status_code == 200, response.json
    export_id = response.json["data"]["export_id"]
    assert client.get(f"/api/ybb/export/{export_id}/status", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 200
    assert client.get(f"/api/ybb/export/{export_id}/download", environ_base=listed).data[:2] == b"PK"
    assert client.get("/api/ybb/status-mappings", environ_base=listed).status_code == 200
    # The keyless exports belong to COMPAT_TENANT: visible to an admin, not to another tenant.
    assert keyless_app.extensions["ybb_service"].get(export_id).tenant == "old-php"
    assert client.get(f"/api/ybb/export/{export_id}/status", headers=auth(keys.a)).status_code == 404
    # Not listed: a key is required. A wrong key is refused even from a listed address.
    assert_old_error(client.get("/api/ybb/templates", environ_base={"REMOTE_ADDR": "10.2.0.1"}), 401)
    assert_old_error(client.get("/api/ybb/templates", headers=auth("ybb_wrong"), environ_base=listed), 401)
    # The cleanup needs an admin key; keyless callers have none.
    assert_old_error(client.post("/api/ybb/cleanup", json={}, environ_base=listed), 403)
    # Keyless access is for the old routes only.
    assert client.get("/api/v1/templates", environ_base=listed).status_code == 401


def test_keyless_networks_parses_ips_and_cidrs() -> None:
    assert keyless_networks("") == [] and keyless_networks(None) == []
    nets = keyless_networks("127.0.0.1, 10.0.0.0/8,::1")
    assert [str(n) for n in nets] == ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]


def test_openapi_documents_the_old_routes(client) -> None:
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert {"/api/ybb/export/{export_type}", "/api/ybb/export/{job_id}/status",
            "/api/ybb/export/{job_id}/download", "/api/ybb/export/{job_id}/download/zip",
            "/api/ybb/export/{job_id}/download/batch/{batch_number}", "/api/ybb/templates",
            "/api/ybb/templates/{export_type}", "/api/ybb/status-mappings", "/api/ybb/system-config",
            "/api/ybb/cleanup", "/api/ybb/storage/info"} <= set(paths)
    assert paths["/api/ybb/export/{export_type}"]["post"]["summary"].startswith("Old API")
