from __future__ import annotations

import pytest

from ybb_api import create_app
from ybb_api.config import DEFAULT_SECRET_KEY, Config, ConfigError


def test_production_refuses_the_default_secret(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("YBB_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("API_KEYS_FILE", str(tmp_path / "keys.json"))
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app(Config())
    monkeypatch.setenv("SECRET_KEY", DEFAULT_SECRET_KEY)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app(Config())


def test_production_requires_a_keys_file(monkeypatch) -> None:
    monkeypatch.setenv("YBB_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "a-real-secret-from-the-vault")
    monkeypatch.delenv("API_KEYS_FILE", raising=False)
    with pytest.raises(ConfigError, match="API_KEYS_FILE"):
        Config().check()


def test_secret_from_file(monkeypatch, tmp_path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    monkeypatch.setenv("SECRET_KEY_FILE", str(secret))
    assert Config().SECRET_KEY == "from-a-file"


def test_development_allows_defaults(monkeypatch) -> None:
    monkeypatch.setenv("YBB_ENV", "development")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("SECRET_KEY_FILE", raising=False)
    config = Config()
    config.check()
    assert config.SECRET_KEY == DEFAULT_SECRET_KEY
