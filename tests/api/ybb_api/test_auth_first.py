"""The API key is checked before a request's body is read (issue 13, items 1 and 2)."""
from __future__ import annotations

import json

import pytest
from werkzeug.test import EnvironBuilder

ROUTES = ["/api/v1/exports", "/api/v1/exports/abc/records", "/api/v1/exports/abc/commit",
          "/api/ybb/export/participants", "/api/v1/admin/debug/error"]


class ExplodingStream:
    """A body that fails the test if anything reads it."""

    def read(self, *args: object) -> bytes:
        raise AssertionError("the body was read before the key was checked")

    readline = read

    def __iter__(self):  # noqa: ANN204
        raise AssertionError("the body was read before the key was checked")


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "not-a-key"}, {"Authorization": "Bearer nope"}],
                         ids=["no-key", "wrong-key", "wrong-bearer"])
def test_no_valid_key_is_a_401_before_the_body_is_read(app, path: str, headers: dict) -> None:
    environ = EnvironBuilder(path=path, method="POST", headers={**headers, "Content-Type": "application/json",
                                                                "Content-Length": "96000000"}).get_environ()
    environ["wsgi.input"] = ExplodingStream()
    answered: list[str] = []
    body = b"".join(app(environ, lambda status, headers, exc_info=None: answered.append(status)))
    assert answered[0].startswith("401"), body
    payload = json.loads(body)
    assert payload["request_id"] and payload["code"] == "unauthorized"


def test_an_invalid_body_without_a_key_is_a_401_not_a_422(client) -> None:
    response = client.post("/api/v1/exports", json={"records": "not a list", "format": 7})
    assert response.status_code == 401 and response.json["code"] == "unauthorized"


def test_public_routes_need_no_key(client) -> None:
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/api/v1/exports/abc/file?expires=1&signature=x").status_code == 403  # checked by signature
    assert client.options("/api/v1/exports").status_code != 401


def test_a_body_nested_too_deep_is_a_400(client, keys) -> None:
    body = '{"records": [{"a": ' + "[" * 1100 + "]" * 1100 + "}]}"
    response = client.post("/api/v1/exports", data=body, headers={"X-API-Key": keys.a,
                                                                  "Content-Type": "application/json"})
    assert response.status_code == 400 and response.json["code"] == "invalid_json", response.json
    batch = "[" * 1100 + "]" * 1100
    response = client.post("/api/v1/exports/abc/records", data=batch,
                           headers={"X-API-Key": keys.a, "Content-Type": "application/json"})
    assert response.status_code in (400, 404), response.json
