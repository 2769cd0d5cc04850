"""Where a source's connection comes from, and what never leaves the process: the password."""
from __future__ import annotations

import pytest

from ybb_engine.errors import EngineError
from ybb_engine.sources import connections
from ybb_engine.sources.connections import connection_url, describe


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("SOURCE_YBB_URL", "SOURCE_YBB_URL_FILE", "DB_HOST", "DB_PORT", "DB_USER", "DB_PASSWORD",
                 "DB_PASSWORD_FILE", "DB_NAME"):
        monkeypatch.delenv(name, raising=False)
    yield
    connections.dispose_all()


def test_the_old_services_db_variables_configure_the_ybb_connection(monkeypatch, tmp_path) -> None:
    secret = tmp_path / "db-password"
    secret.write_text("s3cret pw\n")
    monkeypatch.setenv("DB_HOST", "db.internal")
    monkeypatch.setenv("DB_PORT", "3307")
    monkeypatch.setenv("DB_USER", "ybb_reader")
    monkeypatch.setenv("DB_PASSWORD_FILE", str(secret))
    monkeypatch.setenv("DB_NAME", "ybb_database")
    url = connection_url("ybb")
    assert (url.drivername, url.host, url.port, url.username, url.password, url.database) == \
        ("mysql+pymysql", "db.internal", 3307, "ybb_reader", "s3cret pw", "ybb_database")
    info = describe("ybb")
    assert (info.host, info.database, info.dialect) == ("db.internal", "ybb_database", "mysql")
    assert "s3cret" not in repr(info) and "ybb_reader" not in repr(info)


def test_a_source_url_wins_and_comes_from_a_file_too(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("DB_HOST", "ignored")
    monkeypatch.setenv("DB_USER", "ignored")
    path = tmp_path / "url"
    path.write_text("postgresql+psycopg://reader:pw@pg.internal:5432/app\n")
    monkeypatch.setenv("SOURCE_YBB_URL_FILE", str(path))
    assert connection_url("ybb").host == "pg.internal"
    monkeypatch.setenv("SOURCE_SHOP_ORDERS_URL", "mysql+pymysql://r:p@shop/orders")
    assert connection_url("shop-orders").database == "orders"


@pytest.mark.parametrize("env", [{}, {"DB_HOST": "db"}, {"SOURCE_YBB_URL": "not a url"}])
def test_an_unconfigured_connection_is_a_503_without_defaults(monkeypatch, env) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(EngineError) as refused:
        connection_url("ybb")
    assert refused.value.code == "source_not_configured" and refused.value.status == 503


def test_an_unsupported_database_is_refused(monkeypatch) -> None:
    monkeypatch.setenv("SOURCE_YBB_URL", "sqlite:///tmp/x.db")
    with pytest.raises(EngineError) as refused:
        connections.engine_for("ybb")
    assert refused.value.code == "source_not_configured"


@pytest.mark.parametrize(("given", "driver"), [("mysql://r:p@db/app", "mysql+pymysql"),
                                               ("mariadb://r:p@db/app", "mariadb+pymysql"),
                                               ("postgres://r:p@db/app", "postgresql+psycopg"),
                                               ("postgresql://r:p@db/app", "postgresql+psycopg"),
                                               ("mysql+pymysql://r:p@db/app", "mysql+pymysql")])
def test_urls_without_a_driver_get_the_shipped_one(monkeypatch, given, driver) -> None:
    monkeypatch.setenv("SOURCE_YBB_URL", given)
    assert connection_url("ybb").drivername == driver
