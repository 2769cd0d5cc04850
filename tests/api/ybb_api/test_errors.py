"""Bad input gets a 4xx in one JSON shape with the request id; never a 500."""
from __future__ import annotations

import pytest

SHAPE = {"code", "status", "message", "errors", "request_id"}


@pytest.fixture
def post(client, keys):
    def post(body=None, **kwargs):
        headers = {"X-API-Key": keys.a, "X-Request-Id": "req-123", **kwargs.pop("headers", {})}
        return client.post("/api/v1/exports", json=body, headers=headers, **kwargs)

    return post


def _check(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.json
    assert set(response.json) == SHAPE
    assert response.json["status"] == status and response.json["code"] == code
    assert response.json["request_id"] == "req-123" == response.headers["X-Request-Id"]
    return response.json


def test_broken_json(post) -> None:
    _check(post(data=b'{"records": [', headers={"Content-Type": "application/json"}), 400, "invalid_json")


def test_not_json_is_415(post) -> None:
    _check(post(data=b"records=1", headers={"Content-Type": "application/x-www-form-urlencoded"}), 415,
           "unsupported_media_type")


def test_wrong_types_name_the_fields(post) -> None:
    body = _check(post({"records": "nope", "format": "pdf", "template": 3}), 422, "validation_error")
    assert set(body["errors"]["json"]) == {"records", "format", "template"}


def test_record_that_is_not_an_object(post) -> None:
    body = _check(post({"template": "participants/standard", "records": [{}, 5]}), 422, "validation_error")
    assert "Record 1" in str(body["errors"])


def test_unknown_top_level_field(post) -> None:
    body = _check(post({"template": "participants/standard", "records": [], "colour": "red"}), 422,
                  "validation_error")
    assert "colour" in body["errors"]["json"]


def test_unknown_template(post) -> None:
    body = _check(post({"template": "participants/nope", "records": []}), 404, "unknown_template")
    assert "participants/nope" in body["message"] or "nope" in body["message"]


def test_template_and_columns_together(post) -> None:
    _check(post({"template": "participants/standard", "columns": [{"field": "a"}], "records": []}), 422,
           "validation_error")


def test_filter_on_unknown_field_names_it(post) -> None:
    body = _check(post({"template": "participants/standard", "records": [],
                        "filters": [{"field": "shoe_size", "op": "eq", "value": 1}]}), 422, "unknown_field")
    assert "shoe_size" in body["message"]


def test_body_over_the_limit_is_413(client, keys, app) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = client.post("/api/v1/exports", data=b'{"records": [' + b"{}," * 1000 + b"{}]}",
                           headers={"X-API-Key": keys.a, "Content-Type": "application/json", "X-Request-Id": "req-123"})
    _check(response, 413, "request_entity_too_large")


def test_unknown_route_and_method(client) -> None:
    assert client.get("/nope").json["code"] == "not_found"
    response = client.put("/health")
    assert response.status_code == 405 and set(response.json) == SHAPE


def test_invalid_request_id_is_replaced(client) -> None:
    response = client.get("/health", headers={"X-Request-Id": "bad id with spaces"})
    assert response.headers["X-Request-Id"] != "bad id with spaces"
    assert len(response.headers["X-Request-Id"]) == 32


@pytest.mark.parametrize("path", ["/api/v1/exports", "/api/ybb/export/participants"])
def test_a_body_that_is_not_utf8_is_a_400(client, keys, path: str) -> None:
    response = client.post(path, data=b'{"records": [{"n": "\xff"}]}',
                           headers={"X-API-Key": keys.a, "Content-Type": "application/json"})
    assert response.status_code == 400 and response.json["code"] == "invalid_json", response.json
