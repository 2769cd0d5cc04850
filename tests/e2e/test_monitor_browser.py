"""The monitoring page in headless Chromium (Debian's, driven by Playwright), through Nginx
and its Content-Security-Policy: sign in, see a job a test just ran, find its request in
the logs, open the request's story, save a screenshot."""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

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
