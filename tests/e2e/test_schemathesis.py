"""Schemathesis over the whole OpenAPI document, against the real stack (issue 13).

The document is the running stack's own /api/v1/openapi.json. Every operation gets generated
requests (schemathesis's examples, coverage and fuzzing phases; valid and invalid data) with the
dev key, which has every scope, so the admin routes are exercised too: once straight to Gunicorn
(no rate limits) and once through Nginx over TLS. The checks: no 5xx (schemathesis's
`not_a_server_error`; through Nginx a 502/503/504 counts too), and every 4xx/5xx of an /api/v1
route has the one error shape of docs/errors.md. The old /api/ybb routes answer the old shape,
so only the first check applies to them. `/api/v1/admin/debug/error` raises a 500 on purpose
(DEBUG_ERROR_ROUTE=1): left out.

Random ids and bodies are nearly always refused at once (404, 422), so some generated requests
are steered onto real objects: a job id from a small pool of real jobs (succeeded, awaiting
records, cancelled, queued, the old API's), a real template, or a valid set of columns and records under
the generated options of a new export. The choice is a function of the generated data, so a
failing example replays and shrinks the same.

Bounded for `make test` (docs/testing.md): YBB_FUZZ_EXAMPLES examples per operation in the
fuzzing phase (default 15); YBB_FUZZ_SEED replays a run.
"""
from __future__ import annotations

import json
import os
import time
import zlib
from dataclasses import dataclass, field

import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error

EXAMPLES = int(os.environ.get("YBB_FUZZ_EXAMPLES", "15"))
# Each test is every operation's examples in one pytest item: a longer run gets a longer timeout.
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(max(300, 20 * EXAMPLES))]
SEED = os.environ.get("YBB_FUZZ_SEED")
# Nginx allows 20 requests/s per client IP and per key (burst 40): stay under it, or most answers are 429s.
NGINX_RATE = os.environ.get("YBB_FUZZ_NGINX_RATE", "15/s")
REQUEST_TIMEOUT = 30.0
DEBUG_ROUTE = "/api/v1/admin/debug/error"
ERROR_KEYS = {"code", "status", "message", "errors", "request_id"}

COLUMNS = [{"field": "name", "header": "Name", "type": "string"}, {"field": "n", "header": "N", "type": "integer"}]
RECORDS = [{"name": "Ayu", "n": 1}, {"name": "Budi", "n": 2}]
OLD_RECORDS = [{"id": 1, "full_name": "Ayu Lestari", "email": "ayu@example.org"}]
# The fields a steered export replaces with COLUMNS and RECORDS; its other fields stay as generated.
V1_REPLACED = ("template", "columns", "records", "upload", "expected_rows")


def _dev_key(stack) -> str:
    return (stack.config.var / "dev-api-key").read_text().strip()


def _session(verify: str | bool, key: str | None = None) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxies or REQUESTS_CA_BUNDLE from the environment
    session.verify = verify
    if key:
        session.headers["X-API-Key"] = key
    return session


@dataclass
class Target:
    """One way into the stack, with its schema and the real objects to steer requests onto."""
    base: str
    session: requests.Session
    schema: schemathesis.BaseSchema
    job_ids: list[str] = field(default_factory=list)
    templates: list[dict[str, str]] = field(default_factory=list)


def _real_jobs(session: requests.Session, base: str) -> list[str]:
    def create(body: dict) -> str:
        response = session.post(f"{base}/api/v1/exports", json=body, timeout=REQUEST_TIMEOUT)
        assert response.status_code in (201, 202), response.text
        return response.json()["id"]

    succeeded = create({"columns": COLUMNS, "records": RECORDS, "mode": "sync", "format": "csv"})
    awaiting = create({"columns": COLUMNS, "upload": True})
    cancelled = create({"columns": COLUMNS, "upload": True})
    assert session.delete(f"{base}/api/v1/exports/{cancelled}", timeout=REQUEST_TIMEOUT).status_code == 200
    queued = create({"columns": COLUMNS, "records": RECORDS, "mode": "async", "format": "xlsx"})
    old = session.post(f"{base}/api/ybb/export/participants", json={"data": OLD_RECORDS}, timeout=REQUEST_TIMEOUT)
    assert old.status_code in (200, 202), old.text
    return [succeeded, awaiting, cancelled, queued, old.json()["data"]["export_id"], "0" * 32]


def _target(base: str, key: str, verify: str | bool, rate_limit: str | None = None) -> Target:
    config: dict = {
        "base-url": base,
        "headers": {"X-API-Key": key},
        "tls-verify": verify,
        "request-timeout": REQUEST_TIMEOUT,
        "generation": {"max-examples": EXAMPLES},
        # Network round trips are slow next to data generation: not a fault of the schema.
        "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
    }
    if rate_limit:
        config["rate-limit"] = rate_limit
    if SEED:
        config["seed"] = int(SEED)
    session = _session(verify, key)
    document = session.get(f"{base}/api/v1/openapi.json", timeout=REQUEST_TIMEOUT)
    document.raise_for_status()
    schema = schemathesis.openapi.from_dict(document.json(), config=schemathesis.Config.from_dict(config))
    templates = session.get(f"{base}/api/v1/templates", timeout=REQUEST_TIMEOUT).json()
    target = Target(base, _session(verify), schema, _real_jobs(session, base),
                    [{"type_": t["type"], "name": t["name"]} for t in templates])
    if rate_limit:
        time.sleep(2)  # let the burst those set-up requests used drain
    return target


@pytest.fixture(scope="module")
def gunicorn(stack) -> Target:
    return _target(f"http://127.0.0.1:{stack.config.api_port}", _dev_key(stack), False)


@pytest.fixture(scope="module")
def nginx(stack) -> Target:
    return _target(stack.config.base_url, _dev_key(stack), str(stack.config.cert), NGINX_RATE)


@pytest.fixture(scope="module")
def gunicorn_schema(gunicorn):
    return gunicorn.schema


@pytest.fixture(scope="module")
def nginx_schema(nginx):
    return nginx.schema


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request):
    """Schemathesis 4.32.5's lazy schemas (`from_fixture`) read and set `Function._nodeid`, which
    pytest 9.2 no longer has (node ids moved to `_id`): give them one to read."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


def _pick(value, choices: list):
    """One of `choices`, or None (leave the generated value), as a function of `value`."""
    index = zlib.crc32(repr(value).encode()) % (len(choices) + 1)
    return choices[index] if index < len(choices) else None


def _steer(case, target: Target) -> None:
    """Point some generated requests at real objects (see the module docstring)."""
    path_parameters = case.path_parameters or {}
    if "job_id" in path_parameters and (job_id := _pick(path_parameters, target.job_ids)):
        path_parameters["job_id"] = job_id
    if set(path_parameters) == {"type_", "name"} and (template := _pick(path_parameters, target.templates)):
        path_parameters.update(template)
    if isinstance(case.body, dict):
        # Callbacks would be delivered, and their hosts resolved: nothing of this run leaves the machine.
        case.body.pop("callback_url", None)
        if case.method == "POST" and case.path == "/api/v1/exports" and _pick(case.body, [True]):
            for name in V1_REPLACED:
                case.body.pop(name, None)
            case.body.update(columns=COLUMNS, records=RECORDS)
        elif case.method == "POST" and case.path == "/api/ybb/export/{export_type}" and _pick(case.body, [True]):
            case.body["data"] = OLD_RECORDS


def _gunicorn_request_line_too_long(response) -> bool:
    """Gunicorn answers a request line over its limit_request_line (4094 bytes) itself, in HTML, before
    the app sees it; Nginx passes request lines of up to 8 KiB. A known gap outside the web layer
    (services/api/gunicorn.conf.py or the Nginx template; reported with issue 13)."""
    return response.status_code == 414 and b"Request Line is too large" in response.content


@schemathesis.check
def ybb_error_shape(ctx, response, case) -> None:
    """A 4xx/5xx of an /api/v1 route is JSON with exactly code, status, message, errors, request_id."""
    if response.status_code < 400 or not case.operation.path.startswith("/api/v1/"):
        return
    if _gunicorn_request_line_too_long(response):
        return
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError(f"{response.status_code} body is not JSON: {response.content[:200]!r}") from None
    if not isinstance(body, dict) or set(body) != ERROR_KEYS:
        raise AssertionError(f"{response.status_code} body has not the error shape {sorted(ERROR_KEYS)}: {body!r}")
    if body["status"] != response.status_code:
        raise AssertionError(f"body status {body['status']} != HTTP status {response.status_code}")


CHECKS = [not_a_server_error, ybb_error_shape]


def _run(case, target: Target) -> None:
    _steer(case, target)
    response = case.call(session=target.session)
    case.validate_response(response, checks=CHECKS)


@schemathesis.pytest.from_fixture("gunicorn_schema").exclude(path=DEBUG_ROUTE).parametrize()
def test_gunicorn_has_no_server_errors(case, gunicorn):
    _run(case, gunicorn)


@schemathesis.pytest.from_fixture("nginx_schema").exclude(path=DEBUG_ROUTE).parametrize()
def test_nginx_has_no_server_errors(case, nginx):
    _run(case, nginx)
