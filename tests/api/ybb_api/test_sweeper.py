"""`python -m ybb_api.sweeper`: one pass (the systemd timer), or a pass every N seconds (compose,
`make run`) that outlives a failing pass; on either job store, configured from the environment."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from jobfactory import make_job
from jobstores import store_url  # noqa: F401  (the fixture, over both backends)
from ybb_api import sweeper
from ybb_api.keys import create_key
from ybb_engine.jobstore import open_store


class Stop(BaseException):
    """Ends the loop, as Ctrl-C or SIGTERM would (an Exception is logged and the loop goes on)."""


@pytest.fixture
def environment(tmp_path: Path, store_url: str, monkeypatch) -> str:
    """What the sweeper process gets (ybb.env): DATA_DIR, the keys file, and JOB_STORE_URL for
    PostgreSQL. Returns where the sweeper's store is (what open_store takes)."""
    keys = tmp_path / "api-keys.json"
    create_key(keys, "ops")
    data = tmp_path / "data"
    monkeypatch.setenv("YBB_ENV", "development")
    monkeypatch.setenv("DATA_DIR", str(data))
    monkeypatch.setenv("API_KEYS_FILE", str(keys))
    monkeypatch.delenv("JOB_STORE_URL_FILE", raising=False)
    if "://" in store_url:
        monkeypatch.setenv("JOB_STORE_URL", store_url)
        return store_url
    monkeypatch.delenv("JOB_STORE_URL", raising=False)
    return str(data / "jobs.sqlite3")  # where the service keeps SQLite without JOB_STORE_URL


def test_one_pass_expires_deletes_and_logs_what_it_did(environment: str, caplog) -> None:
    store = open_store(environment)
    now = time.time()
    expiring = store.create(make_job(state="succeeded", created_at=now - 90_000, expires_at=now - 1))
    old = store.create(make_job(state="expired", created_at=now - 30 * 86_400, expires_at=now - 20 * 86_400))
    with caplog.at_level(logging.INFO, logger="ybb.sweeper"):
        assert sweeper.main([]) == 0
    assert store.get(expiring.id).state.value == "expired" and store.get(old.id) is None
    assert "sweep: {'expired': 1, 'lost': 0, 'deleted': 1, 'orphans': 0}" in caplog.text


def test_every_keeps_sweeping_after_a_failed_pass(environment, monkeypatch, caplog) -> None:
    outcomes = iter([RuntimeError("the job store is down"), {"expired": 0}, Stop()])

    def fake_sweep(app, now=None):  # noqa: ANN001, ANN202
        outcome = next(outcomes)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    sleeps: list[float] = []
    monkeypatch.setattr(sweeper, "sweep", fake_sweep)
    monkeypatch.setattr(sweeper.time, "sleep", sleeps.append)
    with caplog.at_level(logging.INFO, logger="ybb.sweeper"), pytest.raises(Stop):
        sweeper.main(["--every", "7"])
    assert sleeps == [7.0, 7.0] and "sweep failed" in caplog.text and "sweep: {'expired': 0}" in caplog.text
