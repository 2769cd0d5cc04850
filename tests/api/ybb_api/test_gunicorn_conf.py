"""services/api/gunicorn.conf.py takes its settings from ybb_api.config.Config: worker recycling
(GUNICORN_MAX_REQUESTS, GUNICORN_MAX_REQUESTS_JITTER) among them."""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
from gunicorn.app.base import Application
from gunicorn.workers.base import Worker

from ybb_api.config import Config

GUNICORN_CONF = Path(__file__).resolve().parents[3] / "services" / "api" / "gunicorn.conf.py"


class _ConfigOnly(Application):
    """Gunicorn's own loading of a configuration file (the file only: no command line), no app."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__()

    def load_config(self) -> None:
        self.load_config_from_file(str(self.path))

    def load(self):  # noqa: ANN201
        raise AssertionError("not started")


def gunicorn_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # else the file makes a temporary one
    monkeypatch.setenv("YBB_API_STARTED_AT", "0")
    monkeypatch.setitem(sys.modules, "__config__", None)  # where Gunicorn puts the file's module; dropped after
    return _ConfigOnly(GUNICORN_CONF).cfg


def test_config_exposes_worker_recycling_with_defaults(monkeypatch) -> None:
    monkeypatch.delenv("GUNICORN_MAX_REQUESTS", raising=False)
    monkeypatch.delenv("GUNICORN_MAX_REQUESTS_JITTER", raising=False)
    config = Config()
    assert (config.GUNICORN_MAX_REQUESTS, config.GUNICORN_MAX_REQUESTS_JITTER) == (2000, 200)
    monkeypatch.setenv("GUNICORN_MAX_REQUESTS", "0")  # 0 is off, not "unset"
    monkeypatch.setenv("GUNICORN_MAX_REQUESTS_JITTER", "")  # empty: the default
    config = Config()
    assert (config.GUNICORN_MAX_REQUESTS, config.GUNICORN_MAX_REQUESTS_JITTER) == (0, 200)
    monkeypatch.setenv("GUNICORN_MAX_REQUESTS", "-5")
    with pytest.raises(ValueError, match="GUNICORN_MAX_REQUESTS"):
        Config()


def test_gunicorn_conf_applies_them(monkeypatch, tmp_path: Path) -> None:
    cfg = gunicorn_settings(monkeypatch, tmp_path, GUNICORN_MAX_REQUESTS="500", GUNICORN_MAX_REQUESTS_JITTER="50",
                            GUNICORN_TIMEOUT="123")
    assert (cfg.max_requests, cfg.max_requests_jitter, cfg.timeout) == (500, 50, 123)
    assert cfg.worker_class_str == "gthread" and cfg.accesslog is None
    worker = Worker(1, 0, [], None, cfg.timeout, cfg, logging.getLogger("test"))
    try:
        assert 500 <= worker.max_requests <= 550  # each worker its own limit, so they restart apart
    finally:
        worker.tmp.close()


def test_gunicorn_conf_zero_turns_recycling_off(monkeypatch, tmp_path: Path) -> None:
    cfg = gunicorn_settings(monkeypatch, tmp_path, GUNICORN_MAX_REQUESTS="0")
    assert cfg.max_requests == 0
    worker = Worker(1, 0, [], None, cfg.timeout, cfg, logging.getLogger("test"))
    try:
        assert worker.max_requests == sys.maxsize
    finally:
        worker.tmp.close()
