"""The request bounds of issue 13 ("hostile clients") as the API answers them: each refusal is a
4xx in the one error shape, never a 500 or a long stall."""
from __future__ import annotations

import time

COLUMNS = [{"field": "name", "type": "string"}, {"field": "n", "type": "number"}, {"field": "i", "type": "integer"}]


def auth(key: str) -> dict:
    return {"X-API-Key": key}


def _error_shape(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.json
    body = response.json
    assert set(body) == {"code", "status", "message", "errors", "request_id"}
    assert body["code"] == code and body["status"] == status
    return body


def test_an_inferred_export_of_17000_columns_is_a_422(client, keys) -> None:
    record = {f"c{i}": i for i in range(17_000)}
    response = client.post("/api/v1/exports", json={"records": [record]}, headers=auth(keys.a))
    body = _error_shape(response, 422, "limit_exceeded")
    assert body["errors"]["limit"] == 16_384


def test_columns_filters_and_field_names_over_the_limits_are_422s(client, keys) -> None:
    records = [{"name": "a", "n": 1, "i": 1}]
    cases = [
        ({"columns": [{"field": f"c{i}"} for i in range(16_385)]}, "columns"),
        ({"columns": COLUMNS, "select": ["name"] * 16_385}, "select"),
        ({"columns": COLUMNS, "order": ["name"] * 16_385}, "order"),
        ({"columns": COLUMNS, "sort": ["x" * 256]}, "sort[0]"),
        ({"columns": COLUMNS, "dedupe": ["x" * 256]}, "dedupe[0]"),
        ({"columns": COLUMNS, "filters": [{"field": "x" * 256, "op": "is_null"}]}, "filters[0]"),
        ({"columns": COLUMNS, "filters": [{"field": "n", "op": "eq", "value": 1}] * 101}, "filters"),
        ({"columns": COLUMNS, "filters": [{"field": "i", "op": "in", "value": list(range(10_001))}]},
         "filters[0].value"),
        ({}, "records[0]"),  # inferred, from a key of 256 characters
    ]
    for request, where in cases:
        sent = {"records": [{**records[0], "y" * 256: 1}] if not request else records, **request}
        body = _error_shape(client.post("/api/v1/exports", json=sent, headers=auth(keys.a)), 422, "limit_exceeded")
        assert where in body["errors"], (where, body)


def test_too_many_records_in_a_create_request_or_a_batch_is_a_413(client, keys, app) -> None:
    app.extensions["ybb_service"].settings.MAX_RECORDS_PER_REQUEST = 3
    records = [{"name": "a", "n": 1, "i": 1}] * 4
    response = client.post("/api/v1/exports", json={"columns": COLUMNS, "records": records}, headers=auth(keys.a))
    body = _error_shape(response, 413, "too_many_records")
    assert body["errors"] == {"records": "at most 3 records per request", "limit": 3}

    created = client.post("/api/v1/exports", json={"columns": COLUMNS, "upload": True}, headers=auth(keys.a))
    job_id = created.json["id"]
    refused = client.post(f"/api/v1/exports/{job_id}/records", json=records, headers=auth(keys.a))
    _error_shape(refused, 413, "too_many_records")
    accepted = client.post(f"/api/v1/exports/{job_id}/records", json=records[:3], headers=auth(keys.a))
    assert accepted.status_code == 200 and accepted.json["rows_total"] == 3


def test_1e300000_in_a_record_is_a_quick_422_naming_row_and_field(client, keys) -> None:
    records = [{"name": "a", "n": 1, "i": 1}, {"name": "b", "n": "1e300000", "i": "1e300000"}]
    started = time.monotonic()
    response = client.post("/api/v1/exports", json={"columns": COLUMNS, "records": records, "format": "csv"},
                           headers=auth(keys.a))
    assert time.monotonic() - started < 5
    body = _error_shape(response, 422, "invalid_records")
    # The number column's overflow is blanked like "1e999" (docs/safety.md); the integer is invalid.
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(1, "i")]
    assert "more than 308 digits" in body["errors"][0]["message"]


def test_1e300000_as_a_filter_value_is_a_quick_422(client, keys) -> None:
    records = [{"name": "a", "n": 1, "i": 1}]
    for field in ("i", "n"):
        started = time.monotonic()
        response = client.post("/api/v1/exports", json={
            "columns": COLUMNS, "records": records, "filters": [{"field": field, "op": "gt", "value": "1e300000"}]},
            headers=auth(keys.a))
        assert time.monotonic() - started < 5
        body = _error_shape(response, 422, "invalid_operation")
        assert "filters[0].value" in body["errors"]


def test_a_date_format_with_a_formula_is_neutralised_in_csv(client, keys) -> None:
    response = client.post("/api/v1/exports", json={
        "columns": [{"field": "d", "type": "date"}], "records": [{"d": "2024-01-15"}], "format": "csv",
        "options": {"date_format": '"=HYPERLINK(""x"")"yyyy'}}, headers=auth(keys.a))
    assert response.status_code == 201, response.json
    assert response.json["warnings"]["formula_neutralised"] == 1
    text = client.get(f"/api/v1/exports/{response.json['id']}/file", headers=auth(keys.a)).data.decode()
    assert text.splitlines()[1].startswith("'=HYPERLINK(")
