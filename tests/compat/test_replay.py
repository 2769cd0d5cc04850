"""Every request the old service's PHP examples, docs and test scripts send (original_requests.json),
replayed through Nginx as those clients send it, with a key and without one: the status, the keys
their code reads, the values, and the file (its header row as the old service wrote it, its rows
and cells)."""
from __future__ import annotations

import copy
import csv
import io
import zipfile
from datetime import date, datetime
from typing import Any

import openpyxl
import pytest
import requests
from oldclient import ORIGINAL_REQUESTS, ORIGINAL_TEMPLATES, OldClient

pytestmark = pytest.mark.e2e

CASES = ORIGINAL_REQUESTS["requests"]
RECORDS = ORIGINAL_REQUESTS["records"]
# The one header the shipped templates cannot take from the old service: it named both
# nationality_code and country_code "Country Code" (its files kept one column); headers are unique here.
LISTING_EXCEPTIONS = {("participants/complete", "nationality_code"): "Nationality Code"}
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# -- the requests -----------------------------------------------------------------------------

def _generated(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The records the old scripts build in a loop (their shapes, for `count` records)."""
    count = spec["count"]
    if spec["$generate"] == "codeigniter_large_export_example":  # codeigniter_integration_examples.php
        return [{"id": i, "name": f"Participant {i}", "email": f"participant{i}@summit2025.com",
                 "phone": f"+1-555-{i:04d}", "program_id": 101,
                 "form_status": "approved" if i % 3 == 0 else "pending",
                 "created_at": f"2025-07-{i % 26 + 1:02d} 10:30:00"} for i in range(1, count + 1)]
    if spec["$generate"] == "memory_metrics":  # test_memory_metrics.py
        return [{"id": i, "full_name": f"Memory Test User {i}", "email": f"memtest{i}@example.com",
                 "status": "Approved", "registration_date": "2025-07-27", "notes": "A" * 1000}
                for i in range(1, count + 1)]
    raise AssertionError(f"no generator {spec['$generate']}")


def request_body(case: dict[str, Any]) -> Any:
    body = copy.deepcopy(case["json"])
    if isinstance(body, dict) and "data" in body:
        data = body["data"]
        if isinstance(data, str) and data.startswith("$"):
            body["data"] = copy.deepcopy(RECORDS[data[1:]])
        elif isinstance(data, dict) and "$generate" in data:
            body["data"] = _generated(data)
    return body


def expectation(case_expect: dict[str, Any], client: OldClient) -> dict[str, Any]:
    if client.name == "keyless" and "keyless" in case_expect:
        return {**case_expect["keyless"], "overridden": True}
    return case_expect


# -- the answers ------------------------------------------------------------------------------

_MISSING = object()


def dig(answer: Any, path: str) -> Any:
    value = answer
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def check_answer(answer: dict[str, Any], expect: dict[str, Any]) -> None:
    missing = [path for path in expect.get("reads", []) if dig(answer, path) is _MISSING]
    assert not missing, f"keys the old client reads are missing: {missing}"
    for path, value in expect.get("equals", {}).items():
        assert dig(answer, path) == value, (path, dig(answer, path))
    for path, prefix in expect.get("startswith", {}).items():
        assert str(dig(answer, path)).startswith(prefix), (path, dig(answer, path))
    for path, fragment in expect.get("contains", {}).items():
        assert fragment in str(dig(answer, path)), (path, dig(answer, path))
    if expect.get("listing"):
        check_listing(answer, expect["listing"])
    if expect.get("mappings"):
        assert answer["data"] == ORIGINAL_TEMPLATES["status_mappings"]


def check_listing(answer: dict[str, Any], which: str) -> None:
    """The template listing: the old service's fields and headers (but LISTING_EXCEPTIONS)."""
    listed = answer["data"] if which == "all" else {which: answer["data"]}
    names = {f"{t}/{n}" for t, group in listed.items() for n in group}
    assert names == {name for name in ORIGINAL_TEMPLATES["templates"] if name.startswith(
        "" if which == "all" else f"{which}/")}
    for name in names:
        type_, template = name.split("/")
        entry, original = listed[type_][template], ORIGINAL_TEMPLATES["templates"][name]
        assert entry["fields"] == original["fields"], name
        pairs = zip(original["fields"], original["headers"], strict=True)
        headers = [LISTING_EXCEPTIONS.get((name, f), h) for f, h in pairs]
        assert entry["headers"] == headers, name
        assert entry["includes_sensitive_data"] is False and entry["name"] == template


def check_old_error(response: requests.Response, status: int) -> None:
    if response.request.path_url.startswith("/api/ybb/") and status in (400, 401, 403, 404) and \
            response.headers.get("Content-Type", "").startswith("application/json"):
        body = response.json()
        if "code" in body and "status" in body and body["status"] == status:
            return  # a path that matches no old route: the new error shape (docs/compat.md)
        assert body["status"] == "error" and body["message"], body


# -- the file ---------------------------------------------------------------------------------

def read_table(content: bytes, kind: str) -> tuple[list[list[Any]], str | None]:
    if kind == "csv":
        return [list(row) for row in csv.reader(io.StringIO(content.decode("utf-8")))], None
    workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    sheet = workbook[workbook.sheetnames[0]]
    return [list(row) for row in sheet.iter_rows(values_only=True)], workbook.sheetnames[0]


def shown(value: Any, kind: str) -> Any:
    """A cell as the old client sees it: dates as YYYY-MM-DD, whole numbers as integers; CSV as text."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def expected_cell(value: Any, kind: str) -> Any:
    if kind == "csv":
        return "" if value is None else str(value)
    return value


def check_file(content: bytes, expect: dict[str, Any], answer: dict[str, Any]) -> None:
    kind = expect["file"]
    if kind == "xlsx":
        assert content[:2] == b"PK"
    table, sheet = read_table(content, kind)
    original = ORIGINAL_TEMPLATES["templates"][expect["template"]]
    header = [h if h is not None else "" for h in table[0]]
    assert header == original.get("file_headers", original["headers"]), "the old service's header row"
    body = table[1:]
    assert len(body) == expect["rows"] == answer["data"]["record_count"]
    if "sheet" in expect:
        assert sheet == expect["sheet"]
    if "sheet_startswith" in expect:
        assert sheet and sheet.startswith(expect["sheet_startswith"])
    for cell in expect.get("cells", []):
        row = body[cell["row"] - 1]
        got = shown(row[header.index(cell["header"])] if header.index(cell["header"]) < len(row) else None, kind)
        assert got == expected_cell(cell["value"], kind), cell


def check_zip(content: bytes, name: str, plain: bytes | None) -> None:
    archive = zipfile.ZipFile(io.BytesIO(content))
    assert archive.namelist() == [name]
    if plain is not None:
        assert archive.read(name) == plain


# -- the replay -------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_old_request_replays(old_client: OldClient, case: dict[str, Any]) -> None:
    expect = expectation(case["expect"], old_client)
    kwargs = {"json": request_body(case)} if "json" in case else {}
    response = old_client.request(case["method"], case["path"], over_http=case.get("over_http", False), **kwargs)
    assert response.status_code == expect["status"], response.text[:1000]
    if case.get("over_http"):
        assert [r.status_code for r in response.history] == [308], "the redirect keeps the POST"
    check_old_error(response, response.status_code)
    if expect.get("overridden"):
        return
    answer = response.json() if response.headers.get("Content-Type", "").startswith("application/json") else {}
    check_answer(answer, expect)

    plain = None
    if "rows" in expect:
        download = old_client.request("GET", answer["data"]["download_url"])
        assert download.status_code == 200, download.text[:500]
        assert download.headers["Content-Type"] == (XLSX_TYPE if expect["file"] == "xlsx"
                                                    else "text/csv; charset=utf-8")
        assert download.headers["Content-Disposition"] == f'attachment; filename="{answer["data"]["file_name"]}"'
        size = answer["data"]["file_size"]
        assert int(download.headers["Content-Length"]) == len(download.content) == size
        plain = download.content
        check_file(plain, expect, answer)

    for step in case.get("then", []):
        path = step["path"].format(export_id=answer["data"]["export_id"])
        follow = old_client.request(step["method"], path)
        assert follow.status_code == step["expect"]["status"], (path, follow.text[:500])
        check_old_error(follow, follow.status_code)
        for name, value in step["expect"].get("equals_header", {}).items():
            assert follow.headers[name] == value, (name, follow.headers.get(name))
        if follow.headers.get("Content-Type", "").startswith("application/json"):
            check_answer(follow.json(), step["expect"])
        elif step["expect"].get("file") == "zip":
            check_zip(follow.content, answer["data"]["file_name"], plain)
        elif step["expect"].get("file") == "xlsx" and step["method"] == "GET":
            assert follow.content == plain
