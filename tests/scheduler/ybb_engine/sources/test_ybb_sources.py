"""The YBB sources against a real MariaDB: every filter of the old service gives the rows its
own SQL (written here, as the old service wrote it) selects; sorting, limits, the row cap,
injection attempts, read-only sessions and a database that is down."""
from __future__ import annotations

import pytest

from ybb_engine.errors import EngineError
from ybb_engine.service import State

PARTICIPANTS = """SELECT DISTINCT p.id FROM participants p
  LEFT JOIN users u ON p.user_id = u.id AND u.is_active = 1 AND u.is_deleted = 0
  LEFT JOIN participant_statuses ps ON p.id = ps.participant_id AND ps.is_active = 1 AND ps.is_deleted = 0
  WHERE p.is_active = 1 AND p.is_deleted = 0"""
PAID = "SELECT 1 FROM payments pay_check WHERE pay_check.participant_id = p.id AND pay_check.status = 2"
PARTICIPANT_FILTERS = [
    ({}, ""),
    ({"program_id": 102}, "p.program_id = 102"),
    ({"program_id": "103"}, "p.program_id = 103"),
    ({"status": "go_to_interview"}, "p.score_status = 'go_to_interview'"),
    ({"status": "rejected"}, "p.score_status = 'rejected'"),
    ({"status": "no_score"}, "p.score_status = 'no_score'"),
    ({"status": "2"}, "ps.general_status = 2"),
    ({"status": "all"}, ""),
    ({"country": "Indonesia"}, "p.nationality = 'Indonesia'"),
    ({"category": "fully_funded"}, "p.category = 'fully_funded'"),
    ({"date_from": "2025-01-01"}, "p.created_at >= '2025-01-01'"),
    ({"date_to": "2025-06-30"}, "p.created_at <= '2025-06-30 23:59:59'"),
    ({"search": "Siti"}, "(p.full_name LIKE '%Siti%' OR u.email LIKE '%Siti%')"),
    ({"search": "100%"}, "(p.full_name LIKE '%100\\\\%%' OR u.email LIKE '%100\\\\%%')"),
    ({"has_submitted_form": "yes"}, "ps.form_status = 2"),
    ({"has_submitted_form": False}, "(ps.form_status IS NULL OR ps.form_status != 2)"),
    ({"has_paid": True}, f"EXISTS ({PAID})"),
    ({"has_paid": "no"}, f"NOT EXISTS ({PAID})"),
    ({"registration_form_status": "not_started"}, "(ps.form_status IS NULL OR ps.form_status = 0)"),
    ({"registration_form_status": "in_progress"}, "ps.form_status = 1"),
    ({"registration_form_status": "submitted"}, "ps.form_status = 2"),
    ({"registration_form_status": 1}, "ps.form_status = 1"),
    ({"program_id": 101, "category": "self_funded", "date_from": "2024-03-01", "date_to": "2025-12-31"},
     "p.program_id = 101 AND p.category = 'self_funded' AND p.created_at >= '2024-03-01' "
     "AND p.created_at <= '2025-12-31 23:59:59'"),
]
PAYMENTS = """SELECT pay.id FROM payments pay LEFT JOIN participants p ON pay.participant_id = p.id
  WHERE pay.is_active = 1 AND pay.is_deleted = 0"""
PAYMENT_FILTERS = [
    ({}, ""),
    ({"participant_id": 8}, "pay.participant_id = 8"),
    ({"program_id": 103}, "p.program_id = 103"),
    ({"status": 2}, "pay.status = 2"),
    ({"status": "success"}, "pay.status = 2"),
    ({"status": "not-a-status"}, ""),
    ({"payment_method_id": 2}, "pay.payment_method_id = 2"),
    ({"date_from": "2025-01-01", "date_to": "2025-03-31"},
     "pay.payment_date >= '2025-01-01' AND pay.payment_date <= '2025-03-31 23:59:59'"),
    ({"amount_min": 100, "amount_max": "200.5"}, "pay.amount >= 100 AND pay.amount <= 200.5"),
]


def _where(base: str, condition: str) -> str:
    return f"{base} AND {condition}" if condition else base


@pytest.mark.parametrize(("params", "condition"), PARTICIPANT_FILTERS, ids=[repr(p) for p, _ in PARTICIPANT_FILTERS])
def test_each_participant_filter_selects_what_the_old_sql_selects(export, csv_rows, admin_query, params,
                                                                  condition) -> None:
    expected = sorted(row[0] for row in admin_query(_where(PARTICIPANTS, condition)))
    job = export("ybb/participants", params, format="csv")
    rows = csv_rows(job)
    assert rows[0][0] == "ID"
    assert sorted(int(r[0]) for r in rows[1:]) == expected
    assert job.rows == len(expected)
    created = [r[-1] for r in rows[1:]]
    assert created == sorted(created, reverse=True)  # the old default: newest first


@pytest.mark.parametrize(("params", "condition"), PAYMENT_FILTERS, ids=[repr(p) for p, _ in PAYMENT_FILTERS])
def test_each_payment_filter_selects_what_the_old_sql_selects(export, csv_rows, admin_query, params,
                                                              condition) -> None:
    expected = sorted(row[0] for row in admin_query(_where(PAYMENTS, condition)))
    rows = csv_rows(export("ybb/payments", params, format="csv", template="payments/detailed"))
    assert sorted(int(r[0]) for r in rows[1:]) == expected


def test_an_export_reads_in_several_ranges_and_keeps_every_row_once(service, export, csv_rows, admin_query) -> None:
    job = export("ybb/participants", {}, format="csv")
    assert job.partitions >= 5  # 3,000 participants, SOURCE_PARTITION_ROWS=400
    ids = [int(r[0]) for r in csv_rows(job)[1:]]
    assert len(ids) == len(set(ids)) == len(admin_query(PARTICIPANTS))


def test_sort_by_and_limit(export, csv_rows, admin_query) -> None:
    """The database's collation picks the first rows; the engine orders what it writes
    (code points, as it orders every export: docs/sources.md#sorting)."""
    expected = admin_query(f"{PARTICIPANTS.replace('DISTINCT p.id', 'DISTINCT p.id, p.full_name')} "
                           "ORDER BY p.full_name ASC, p.id LIMIT 25")
    rows = csv_rows(export("ybb/participants", {"sort_by": "name", "sort_order": "asc", "limit": 25}, format="csv"))
    assert sorted(int(r[0]) for r in rows[1:]) == sorted(row[0] for row in expected)
    names = [r[1][1:] if r[1][:2] in ("'=", "'+", "'-", "'@") else r[1] for r in rows[1:]]  # the CSV formula guard
    assert names == sorted(names)


def test_sorting_by_a_field_the_template_does_not_show(export, csv_rows, admin_query) -> None:
    rows = csv_rows(export("ybb/participants", {"sort_by": "email", "sort_order": "asc"}, format="csv",
                           template="participants/summary"))
    emails = [r[1] for r in rows[1:] if r[1]]
    assert emails == sorted(emails)
    assert rows[0] == ["Name", "Email", "Country", "Category", "Status"]


@pytest.mark.parametrize("name", ["country", "category", "search", "status", "date_from", "sort_by"])
def test_injection_attempts_in_any_parameter_are_values_or_refusals(service, export, csv_rows, admin_query,
                                                                    name) -> None:
    before = admin_query("SELECT COUNT(*) FROM participants")[0][0]
    attack = "x' OR '1'='1'; DROP TABLE participants; -- "
    try:
        job = export("ybb/participants", {name: attack}, format="csv")
    except EngineError as refused:
        assert refused.code == "invalid_source_params" and refused.status == 422
    else:
        assert job.state is State.SUCCEEDED and len(csv_rows(job)) == 1  # no participant matches the text
    assert admin_query("SELECT COUNT(*) FROM participants")[0][0] == before


def test_the_row_cap_refuses_before_reading(service) -> None:
    service.settings.SOURCE_MAX_ROWS = 100
    from ybb_engine.service import ExportRequest
    with pytest.raises(EngineError) as refused:
        service.create(ExportRequest(tenant="t", body={"source": {"name": "ybb/participants", "params": {}}}))
    assert refused.value.code == "too_many_rows" and refused.value.status == 413
    job = service.create(ExportRequest(tenant="t", body={"source": {"name": "ybb/participants",
                                                                    "params": {"limit": 100}}}))
    assert service.wait(job, 60).rows == 100


def test_sessions_are_read_only(service) -> None:
    from ybb_engine.sources.reader import run_all
    with pytest.raises(EngineError) as refused:
        run_all("ybb", "UPDATE participants SET full_name = 'x' WHERE id = 1", {})
    assert refused.value.code == "source_query_failed"
    assert run_all("ybb", "SELECT @@session.tx_read_only AS ro", {})[0]["ro"] == 1


def test_statistics_count_what_the_old_route_counted(service, admin_query) -> None:
    stats = service.source_statistics("ybb/payments", {"program_id": 102})
    expected = admin_query(f"{PAYMENTS.replace('pay.id', 'pay.status, COUNT(*), SUM(pay.amount)')} "
                           "AND p.program_id = 102 GROUP BY pay.status")
    assert stats["total_count"] == sum(row[1] for row in expected)
    assert {(b["status"], b["count"], round(b["total_amount"], 2)) for b in stats["breakdown"]} == \
        {(row[0], row[1], round(float(row[2]), 2)) for row in expected}
    participants = service.source_statistics("ybb/participants", {})
    assert participants["total_count"] == len(admin_query(PARTICIPANTS))
    assert {"form_status", "score_status", "count", "interview_count", "fully_funded_count"} == \
        set(participants["breakdown"][0])


def test_a_source_of_no_rows_writes_a_header_only_file(export, csv_rows) -> None:
    job = export("ybb/participants", {"search": "no participant has this text"}, format="csv")
    assert job.rows == 0 and len(csv_rows(job)) == 1


def test_a_database_that_is_down_answers_503_and_no_job(service, monkeypatch) -> None:
    from ybb_engine.service import ExportRequest
    from ybb_engine.sources import connections
    connections.dispose_all()
    monkeypatch.setenv("SOURCE_YBB_URL", "mysql+pymysql://reader:secret-password@127.0.0.1:1/ybb")
    with pytest.raises(EngineError) as refused:
        service.create(ExportRequest(tenant="t", body={"source": {"name": "ybb/participants", "params": {}}}))
    assert refused.value.status == 503 and refused.value.code == "source_unavailable"
    assert "secret-password" not in refused.value.message and "reader" not in refused.value.message
    assert service.list(None, 1, 10)[1] == 0
    with pytest.raises(EngineError) as check:
        service.check_source_connection("ybb/participants")
    assert check.value.status == 503


def test_a_statement_past_the_time_limit_is_stopped(ybb_env, monkeypatch) -> None:
    from ybb_engine.sources import connections
    from ybb_engine.sources.reader import run_all
    connections.dispose_all()
    monkeypatch.setenv("SOURCE_STATEMENT_TIMEOUT", "1")
    with pytest.raises(EngineError) as slow:
        run_all("ybb", "SELECT SLEEP(3) AS slept, COUNT(*) AS n FROM participants", {})
    assert slow.value.code == "source_timeout"


def test_the_reads_task_arguments_carry_the_connection_name_not_its_credentials(service, ybb_env) -> None:
    import pickle

    from ybb_engine.sources.exports import prepare_source_export
    export = prepare_source_export(service.sources, {"name": "ybb/participants", "params": {"search": "a"}}, {},
                                   service.templates, service.settings.limits(), 400, 100_000)
    pickled = pickle.dumps(export.plan.ranges)
    server = ybb_env.server
    assert export.plan.ranges[0].connection == "ybb"
    assert server.readonly_password.encode() not in pickled and server.readonly_user.encode() not in pickled


def test_a_read_retries_a_lost_connection_then_gives_up(ybb_env, monkeypatch) -> None:
    from ybb_engine.sources import connections, reader
    query = reader.SourceRange("ybb", "SELECT id FROM participants WHERE id < :n", {"n": 5}, ("id",))
    assert reader.read(query, retry_delays=()).column("id").to_pylist() == [1, 2, 3, 4]
    calls = []
    real = reader._read_once

    def flaky(source_range):
        calls.append(1)
        if len(calls) == 1:
            raise connections.unavailable("ybb", OSError("connection reset"))
        return real(source_range)
    monkeypatch.setattr(reader, "_read_once", flaky)
    assert reader.read(query, retry_delays=(0.0,)).num_rows == 4 and len(calls) == 2
    connections.dispose_all()
    monkeypatch.setattr(reader, "_read_once", real)
    monkeypatch.setenv("SOURCE_YBB_URL", "mysql+pymysql://u:p@127.0.0.1:1/ybb")
    with pytest.raises(EngineError) as down:
        reader.read(query, retry_delays=(0.0, 0.0))
    assert down.value.code == "source_unavailable"
