"""The monitoring page in headless Chromium (Debian's, driven by Playwright), through Nginx
and its Content-Security-Policy: sign in, see a job a test just ran, find its request in
the logs, open the request's story, save a screenshot; the performance tables keep a very
long path inside their columns at 1,400 px; the API docs page (/docs) loads only from the
service itself."""
from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ybb_engine.telemetry import iso_time

pytestmark = pytest.mark.e2e
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture
def browser_page(tmp_path: Path):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure_chromium.sh as root (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            user_data_dir=str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_ARGS, ignore_https_errors=True, viewport={"width": 1400, "height": 2200},
        )
        page = context.new_page()
        page.set_default_timeout(20_000)
        problems: list[str] = []
        page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        try:
            yield page, problems
        finally:
            context.close()


def test_monitor_shows_a_fresh_job_and_its_request_story(stack, api, base_url, browser_page) -> None:
    page, problems = browser_page
    request_id = f"browser-{uuid.uuid4().hex[:10]}"
    created = api.post(f"{base_url}/api/v1/exports", headers={"X-Request-Id": request_id},
                       json={"format": "csv", "records": [{"name": "A", "n": 1}, {"name": "B", "n": 2}]})
    assert created.status_code == 201, created.text
    job_id = created.json()["id"]

    response = page.goto(f"{base_url}/monitor")
    assert response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.fill("#api-key", api.headers["X-API-Key"])
    page.click("#login-form button[type=submit]")

    job_row = page.locator(f'#jobs-recent tr[data-job-id="{job_id}"]')
    job_row.wait_for()
    assert "succeeded" in job_row.inner_text() and "dev" in job_row.inner_text()
    page.locator("#workers tbody tr").nth(1).wait_for()  # both Dask workers, live from the scheduler
    assert page.locator("#status-cards .badge.ok").count() == 3

    page.fill("#log-request-id", request_id)
    page.click("#log-search button[type=submit]")
    request_link = page.locator(f'#log-results button[data-request-id="{request_id}"]').first
    request_link.wait_for()
    assert page.locator("#log-results tbody tr").count() >= 2  # the request line and the job's lines
    request_link.click()
    page.locator("#story").wait_for(state="visible")
    story = page.locator("#story-lines").inner_text()
    assert f"job {job_id} succeeded" in story and "POST /api/v1/exports 201" in story
    assert job_id in page.locator("#story-jobs").inner_text()

    screenshot = stack.config.var / "monitor.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
    assert not problems, problems


def _append_log_lines(stack, *lines: dict) -> None:
    """Lines in the API's own log format, appended to its log file as the workers append theirs
    (/monitor's statistics are read from that file)."""
    base = {"time": iso_time(time.time()), "level": "info", "process": "api", "pid": os.getpid()}
    text = "".join(json.dumps({**base, **line}) + "\n" for line in lines)
    with open(stack.config.var / "log" / "ybb-api.jsonl", "a", encoding="utf-8") as log:
        log.write(text)


# Every cell's box and the visible part of its content inside its table; the tables apart.
LAYOUT_SCRIPT = """(ids) => ids.map((id) => {
  const table = document.getElementById(id), box = (n) => n.getBoundingClientRect().toJSON();
  return {id, box: box(table), cells: [...table.querySelectorAll("th, td")].map((cell) => ({
    text: cell.textContent.slice(0, 60), box: box(cell), scrollWidth: cell.scrollWidth, clientWidth: cell.clientWidth,
  }))};
})"""


def _overlap(a: dict, b: dict) -> bool:
    return a["left"] < b["right"] - 0.5 and b["left"] < a["right"] - 0.5 and \
        a["top"] < b["bottom"] - 0.5 and b["top"] < a["bottom"] - 0.5


def test_long_paths_stay_inside_the_performance_tables(stack, api, base_url, browser_page) -> None:
    page, problems = browser_page
    marker = uuid.uuid4().hex[:10]
    long_path = f"/api/v1/exports/{marker}-" + "/".join(["averyveryverylongpathsegmentwithoutanybreaks" * 4] * 12)
    long_token = "qwertzuiopasdfghjklyxcvbnm" * 12
    _append_log_lines(
        stack,
        # The slowest request by far, so it leads "Slow requests" whatever else the session ran.
        {"logger": "ybb.access", "message": f"GET {long_path} 404", "event": "request", "method": "GET",
         "path": long_path, "route": "/api/v1/exports/<string:job_id>", "status": 404, "duration_ms": 987654.3,
         "bytes": 120, "client_ip": "127.0.0.1", "error_code": "not_found", "request_id": f"layout-{marker}"},
        # An error line whose pattern is one long word too.
        {"level": "error", "logger": "ybb.layout", "message": f"cannot read /var/{long_token}"},
    )
    assert page.viewport_size["width"] == 1400
    response = page.goto(f"{base_url}/monitor")
    assert response.status == 200
    page.fill("#api-key", api.headers["X-API-Key"])
    page.click("#login-form button[type=submit]")

    slow_row = page.locator("#slow-requests tbody tr", has_text=marker).first
    slow_row.wait_for()
    assert page.locator("#slow-requests tbody tr").first.inner_text().find(marker) >= 0
    page.locator("#error-patterns tbody tr", has_text=long_token[:40]).first.wait_for()
    # The whole path is still there to read, on hover.
    assert page.locator(f'#slow-requests td [title="GET {long_path}"]').count() == 1

    tables = {t["id"]: t for t in page.evaluate(LAYOUT_SCRIPT, ["slow-requests", "error-patterns", "endpoint-usage"])}
    for table in tables.values():
        edge = table["box"]
        for cell in table["cells"]:
            assert cell["box"]["left"] >= edge["left"] - 0.5 and cell["box"]["right"] <= edge["right"] + 0.5, \
                (table["id"], cell)
            assert cell["scrollWidth"] <= cell["clientWidth"] + 1, (table["id"], cell)  # nothing spills out
    assert not _overlap(tables["slow-requests"]["box"], tables["error-patterns"]["box"]), tables
    assert not _overlap(tables["error-patterns"]["box"], tables["endpoint-usage"]["box"]), tables
    assert tables["slow-requests"]["box"]["right"] <= tables["error-patterns"]["box"]["left"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400  # no sideways scrolling
    page.screenshot(path=str(stack.config.var / "monitor-long-paths.png"), full_page=True)
    assert not problems, problems


def test_docs_page_loads_only_from_the_service(stack, base_url, browser_page) -> None:
    """Swagger UI's files come from the app (swagger-ui-bundle), not a CDN: the page renders
    under Nginx's Content-Security-Policy without asking any other host for anything."""
    page, problems = browser_page
    requested: list[str] = []
    failed: list[str] = []
    console_errors: list[tuple[str, str]] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("response", lambda answer: failed.append(f"{answer.status} {answer.url}") if answer.status >= 400 else None)
    page.on("console", lambda msg: console_errors.append((msg.text, msg.location.get("url", "")))
            if msg.type == "error" else None)
    response = page.goto(f"{base_url}/docs")
    assert response.status == 200
    assert "cdn" not in response.headers["content-security-policy"]
    page.locator(".opblock").first.wait_for()
    assert page.locator(".opblock").count() >= 10  # the operations, from /api/v1/openapi.json
    origin = urlsplit(base_url).netloc
    foreign = [url for url in requested if not url.startswith("data:") and urlsplit(url).netloc != origin]
    assert not foreign, foreign
    assert any(url.endswith("/docs/static/swagger-ui-bundle.js") for url in requested), requested
    assert not failed, failed
    # The browser's own /favicon.ico request (the page names no icon) answers 404: not the page's.
    assert not [error for error in console_errors if not error[1].endswith("/favicon.ico")], console_errors
    assert not [p for p in problems if not p.startswith("Failed to load resource")], problems
