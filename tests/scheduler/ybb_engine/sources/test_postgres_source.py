"""A source of another application's PostgreSQL database, declared in SOURCES_DIRS: the XLSX
it produces, read back by openpyxl and calamine, holds the table's values cell by cell."""
from __future__ import annotations

import io
from datetime import UTC
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa
from python_calamine import CalamineWorkbook

from ybb_engine.errors import EngineError
from ybb_engine.service import ExportRequest, ExportService, State
from ybb_engine.settings import EngineSettings
from ybb_engine.sources import connections
from ybb_engine.sources.reader import run_all

EXTRA = Path(__file__).with_name("extra_sources")


@pytest.fixture
def demo(postgres, monkeypatch, tmp_path: Path, cluster):
    monkeypatch.setenv("SOURCE_DEMO_URL", postgres.server.readonly_url)
    settings = EngineSettings(DATA_DIR=str(tmp_path / "data"), DASK_SCHEDULER_ADDRESS=cluster.scheduler_address,
                              SOURCE_PARTITION_ROWS=300, SOURCES_DIRS=[str(EXTRA)], ENV="development")
    yield ExportService.from_settings(settings)
    connections.dispose_all()


def _direct(postgres, sql: str) -> list[tuple]:
    engine = sa.create_engine(postgres.server.admin_url)
    with engine.connect() as connection:
        rows = [tuple(row) for row in connection.execute(sa.text(sql))]
    engine.dispose()
    return rows


def _export(service: ExportService, params: dict, **body) -> bytes:
    job = service.create(ExportRequest(tenant="t", body={"source": {"name": "demo/ambassadors", "params": params},
                                                         **body}))
    job = service.wait(job, 60)
    assert job.state is State.SUCCEEDED, (job.error_code, job.error_message)
    return service.file(job).path.read_bytes()


def test_every_cell_matches_the_table(demo, postgres) -> None:
    content = _export(demo, {"status": "active", "min_referrals": 50})
    expected = _direct(postgres, "SELECT id, name, email, referral_code, institution, total_referrals, "
                       "status = 'active', created_at FROM ambassadors WHERE status = 'active' "
                       "AND total_referrals >= 50 ORDER BY id")
    assert len(expected) > 100

    def cells(row: tuple) -> list:
        created = row[7].astimezone(UTC).replace(tzinfo=None)
        return [row[0], row[1], row[2], row[3], row[4], row[5], "Yes" if row[6] else "No", created]

    opened = openpyxl.load_workbook(io.BytesIO(content), read_only=True).worksheets[0]
    by_openpyxl = [list(r) for r in opened.iter_rows(values_only=True)]
    assert by_openpyxl[0] == ["ID", "Ambassador Name", "Email", "Reference Code", "Institution", "Total Referrals",
                              "Active Status", "Registration Date"]
    assert by_openpyxl[1:] == [cells(row) for row in expected]
    by_calamine = CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0).to_python()
    assert [[int(v) if isinstance(v, float) and v.is_integer() else v for v in r] for r in by_calamine[1:]] == \
        [cells(row) for row in expected]


def test_own_columns_with_a_numeric_and_a_search_parameter(demo, postgres) -> None:
    columns = [{"field": "id", "header": "ID", "type": "integer"}, {"field": "name", "header": "Name"},
               {"field": "amount", "header": "Amount", "type": "number"}]
    content = _export(demo, {"name_like": "siti", "created_from": "2025-01-01"}, columns=columns)
    expected = _direct(postgres, "SELECT id, name, amount FROM ambassadors WHERE name ILIKE '%siti%' "
                       "AND created_at >= '2025-01-01' ORDER BY id")
    rows = [list(r) for r in openpyxl.load_workbook(io.BytesIO(content), read_only=True).worksheets[0]
            .iter_rows(values_only=True)]
    assert rows[1:] == [[row[0], row[1], float(row[2])] for row in expected] and expected


def test_the_source_row_cap_and_statistics(demo, postgres) -> None:
    with pytest.raises(EngineError) as refused:
        demo.create(ExportRequest(tenant="t", body={"source": {"name": "demo/ambassadors", "params": {}}}))
    assert refused.value.code == "too_many_rows" and refused.value.errors["max_rows"] == 1500
    stats = demo.source_statistics("demo/ambassadors", {"status": "pending"})
    expected = _direct(postgres, "SELECT COUNT(*), SUM(total_referrals) FROM ambassadors WHERE status = 'pending'")
    assert stats == {"total_count": expected[0][0],
                     "breakdown": [{"status": "pending", "count": expected[0][0], "referrals": expected[0][1]}]}


def test_postgres_sessions_are_read_only_and_time_limited(demo, monkeypatch) -> None:
    assert run_all("demo", "SHOW transaction_read_only", {})[0]["transaction_read_only"] == "on"
    with pytest.raises(EngineError) as refused:
        run_all("demo", "DELETE FROM ambassadors", {})
    assert refused.value.code == "source_query_failed"
    connections.dispose_all()
    monkeypatch.setenv("SOURCE_STATEMENT_TIMEOUT", "1")
    with pytest.raises(EngineError) as slow:
        run_all("demo", "SELECT pg_sleep(3) AS slept", {})
    assert slow.value.code == "source_timeout"
