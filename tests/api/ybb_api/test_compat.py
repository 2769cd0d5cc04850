"""The old YBB API (/api/ybb/...) on the bare app: old request shapes in, old response shapes out."""
from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from ybb_api import create_app
from ybb_api.compat import keyless_networks, translate_filters
from ybb_api.config import TestingConfig

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
OLD_SUCCESS_DATA = {"export_id", "file_name", "file_size", "record_count", "download_url", "expires_at"}


def auth(key: str) -> dict:
    return {"X-API-Key": key}


def assert_old_error(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.json
    assert body["status"] == "error"
    assert isinstance(body["message"], str) and body["message"]
    assert body["request_id"] == response.headers["X-Request-Id"]
    return body


def test_old_participants_export_answers_the_old_envelope_and_the_file(client, keys) -> None:
    old_request = {"data": PARTICIPANTS, "template": "standard", "format": "excel",
                   "filename": "participants_export.xlsx", "sheet_name": "Participants"}
    response = client.post("/api/ybb/export/participants", json=old_request,
                           headers={**auth(keys.a), "X-Request-Id": "old-php-1"})
    assert response.status_code == 200, response.json
    body = response.json
    assert body["status"] == "success" and body["request_id"] == "old-php-1"
    data = body["data"]
    assert OLD_SUCCESS_DATA <= set(data)
    assert data["file_name"] == "participants_export.xlsx"
    assert data["record_count"] == 3 and data["file_size"] > 0
    assert data["download_url"] == f"/api/ybb/export/{data['export_id']}/download"
    assert data["expires_at"].startswith("20")
    assert body["metadata"]["export_type"] == "participants" and body["metadata"]["template"] == "standard"

    download = client.get(data["download_url"], headers=auth(keys.a))
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].startswith('attachment; filename="participants_export.xlsx"')
    assert len(download.data) == data["file_size"] and download.data[:2] == b"PK"
    workbook = openpyxl.load_workbook(io.BytesIO(download.data), read_only=True)
    assert workbook.sheetnames == ["Participants"]
    rows = list(workbook["Participants"].iter_rows(values_only=True))
    assert len(rows) == 4 and "Ayu Lestari" in rows[1]

    # The new API sees the same export: it runs on the new engine.
    new = client.get(f"/api/v1/exports/{data['export_id']}", headers=auth(keys.a)).json
    assert new["state"] == "succeeded" and new["template"] == "participants/standard"


def test_old_flat_filters_become_equality_filters_and_csv_is_csv(client, keys) -> None:
    old_request = {"data": PARTICIPANTS, "template": "standard", "format": "csv",
                   "filters": {"nationality": "Indonesia", "form_status": 2}}
    response = client.post("/api/ybb/export/participants", json=old_request, headers=auth(keys.a))
    assert response.status_code == 200, response.json
    data = response.json["data"]
    assert data["record_count"] == 2 and data["file_name"].endswith(".csv")
    assert response.json["metadata"]["filters_applied"] == {"nationality": "Indonesia", "form_status": 2}
    text = client.get(data["download_url"], headers=auth(keys.a)).data.decode("utf-8")
    names = [row[1] for row in csv.reader(io.StringIO(text))][1:]
    assert names == ["Ayu Lestari", "Chen Wei"]


def test_translate_filters_maps_scalars_lists_and_nulls() -> None:
    assert translate_filters({}) == []
    assert translate_filters({"a": 1, "b": ["x", "y"], "c": None}) == [
        {"field": "a", "op": "eq", "value": 1},
        {"field": "b", "op": "in", "value": ["x", "y"]},
        {"field": "c", "op": "is_null"},
    ]


def test_payments_and_ambassadors_routes_use_their_templates(client, keys) -> None:
    payments = [{"id": 1, "amount": 150000, "currency": "IDR", "status": 2}]
    response = client.post("/api/ybb/export/payments", json={"data": payments, "template": "detailed"},
                           headers=auth(keys.a))
    assert response.status_code == 200, response.json
    assert response.json["metadata"]["template"] == "detailed"
    ambassadors = [{"id": 1, "name": "Siti", "email": "siti@example.org"}]
    response = client.post("/api/ybb/export/ambassadors", json={"data": ambassadors}, headers=auth(keys.a))
    assert response.status_code == 200, response.json
    assert response.json["metadata"]["export_type"] == "ambassadors"


def test_status_answers_the_old_flat_shape(client, keys) -> None:
    created = client.post("/api/ybb/export/participants", json={"data": PARTICIPANTS}, headers=auth(keys.a)).json
    export_id = created["data"]["export_id"]
    response = client.get(f"/api/ybb/export/{export_id}/status", headers=auth(keys.a))
    assert response.status_code == 200
    status = response.json
    assert status["status"] == "success" and status["export_id"] == export_id
    assert status["export_type"] == "participants" and status["template"] == "standard"
    assert status["record_count"] == 3 and status["export_status"] == "succeeded" and status["progress"] == 100
    assert status["created_at"] and status["expires_at"]


def test_templates_lists_every_type_with_fields_and_headers(client, keys) -> None:
    response = client.get("/api/ybb/templates", headers=auth(keys.a))
    assert response.status_code == 200
    body = response.json
    assert body["status"] == "success"
    assert {"participants", "payments", "ambassadors"} <= set(body["data"])
    assert {"standard", "detailed", "summary", "complete"} <= set(body["data"]["participants"])
    standard = body["data"]["participants"]["standard"]
    assert standard["name"] == "standard" and len(standard["fields"]) == len(standard["headers"]) > 0
    one = client.get("/api/ybb/templates/payments", headers=auth(keys.a)).json
    assert set(one["data"]) == {"payments"}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"data": []}, "No data provided for export"),
        ({"template": "standard"}, "data"),
        ({"data": PARTICIPANTS, "format": "pdf"}, "format"),
        ({"data": [1, 2]}, "data"),
        ({"data": PARTICIPANTS, "template": "fancy"}, "Template 'fancy' not found for participants"),
        ({"data": PARTICIPANTS, "filters": {"no_such_field": 1}}, "no_such_field"),
        ({"data": PARTICIPANTS, "filters": {"id": {"gt": 1}}}, "Filter 'id'"),
    ],
)
def test_invalid_old_requests_answer_400_in_the_old_error_shape(client, keys, body, fragment) -> None:
    response = client.post("/api/ybb/export/participants", json=body, headers=auth(keys.a))
    error = assert_old_error(response, 400)
    assert fragment in error["message"]


def test_invalid_records_answer_400_with_the_rows(client, keys) -> None:
    bad = [{**PARTICIPANTS[0], "id": "not a number"}]
    error = assert_old_error(client.post("/api/ybb/export/participants", json={"data": bad},
                                         headers=auth(keys.a)), 400)
    assert error["code"] == "invalid_records" and error["errors"][0]["field"] == "id"


def test_errors_unknown_exports_other_tenants_and_bad_json(client, keys) -> None:
    assert_old_error(client.get("/api/ybb/export/nope/status", headers=auth(keys.a)), 404)
    assert_old_error(client.get("/api/ybb/export/nope/download", headers=auth(keys.a)), 404)
    created = client.post("/api/ybb/export/participants", json={"data": PARTICIPANTS}, headers=auth(keys.a)).json
    export_id = created["data"]["export_id"]
    assert_old_error(client.get(f"/api/ybb/export/{export_id}/status", headers=auth(keys.b)), 404)
    assert client.get(f"/api/ybb/export/{export_id}/status", headers=auth(keys.admin)).status_code == 200
    bad_json = client.post("/api/ybb/export/participants", data=b"{not json",
                           headers={**auth(keys.a), "Content-Type": "application/json"})
    assert assert_old_error(bad_json, 400)["code"] == "invalid_json"
    upload = client.post("/api/v1/exports", json={"template": "participants/standard", "upload": True},
                         headers=auth(keys.a)).json
    assert assert_old_error(client.get(f"/api/ybb/export/{upload['id']}/download", headers=auth(keys.a)),
                            409)["code"] == "not_ready"
    # Not one of the three export types: no such route.
    assert client.post("/api/ybb/export/invoices", json={"data": PARTICIPANTS}, headers=auth(keys.a)).status_code == 404


def test_a_key_is_required_by_default(client, keys) -> None:
    for response in (
        client.post("/api/ybb/export/participants", json={"data": PARTICIPANTS}),
        client.get("/api/ybb/templates"),
        client.get("/api/ybb/templates", headers=auth("ybb_wrong")),
        client.get("/api/ybb/export/x/status", headers={"Authorization": "Bearer ybb_wrong"}),
    ):
        assert assert_old_error(response, 401)["code"] == "unauthorized"
    read_only = client.post("/api/ybb/export/participants", json={"data": PARTICIPANTS}, headers=auth(keys.read_only))
    assert assert_old_error(read_only, 403)["code"] == "forbidden"


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
    # The keyless exports belong to COMPAT_TENANT: visible to an admin, not to another tenant.
    assert keyless_app.extensions["ybb_service"].get(export_id).tenant == "old-php"
    assert client.get(f"/api/ybb/export/{export_id}/status", headers=auth(keys.a)).status_code == 404
    # Not listed: a key is required. A wrong key is refused even from a listed address.
    assert_old_error(client.get("/api/ybb/templates", environ_base={"REMOTE_ADDR": "10.2.0.1"}), 401)
    assert_old_error(client.get("/api/ybb/templates", headers=auth("ybb_wrong"), environ_base=listed), 401)
    # Keyless access is for the old routes only.
    assert client.get("/api/v1/templates", environ_base=listed).status_code == 401


def test_keyless_networks_parses_ips_and_cidrs() -> None:
    assert keyless_networks("") == [] and keyless_networks(None) == []
    nets = keyless_networks("127.0.0.1, 10.0.0.0/8,::1")
    assert [str(n) for n in nets] == ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]


def test_openapi_documents_the_old_routes(client) -> None:
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert {"/api/ybb/export/{export_type}", "/api/ybb/export/{job_id}/status",
            "/api/ybb/export/{job_id}/download", "/api/ybb/templates"} <= set(paths)
    assert paths["/api/ybb/export/{export_type}"]["post"]["summary"].startswith("Old API")
