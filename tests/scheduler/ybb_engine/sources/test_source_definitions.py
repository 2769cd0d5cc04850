"""Source files and parameter binding, without a database: what SQL a request can and cannot reach."""
from __future__ import annotations

from datetime import datetime

import pytest

from ybb_engine.errors import EngineError, TemplateError
from ybb_engine.sources import SourceCatalog
from ybb_engine.sources.definition import parse_source
from ybb_engine.sources.query import bind

MINIMAL = {"connection": "demo", "template": "ambassadors/standard", "key": "t.id", "from": "things t",
           "columns": {"id": "t.id", "name": "t.name"}}


@pytest.fixture(scope="module")
def catalog() -> SourceCatalog:
    return SourceCatalog.load()


def test_the_shipped_sources_load_and_describe_themselves_without_sql(catalog) -> None:
    assert set(catalog.definitions) == {"ybb/participants", "ybb/payments"}
    described = {d["name"]: d for d in catalog.describe()}
    participants = described["ybb/participants"]
    assert participants["template"] == "participants/standard"
    names = {p["name"] for p in participants["params"]}
    assert {"program_id", "status", "country", "category", "date_from", "date_to", "search", "has_submitted_form",
            "has_paid", "registration_form_status", "limit", "sort_by", "sort_order"} <= names
    payments = {p["name"] for p in described["ybb/payments"]["params"]}
    assert {"participant_id", "program_id", "status", "payment_method_id", "date_from", "date_to", "amount_min",
            "amount_max"} <= payments
    text = repr(described)
    assert "SELECT" not in text and "JOIN" not in text and "p.program_id" not in text


@pytest.mark.parametrize(("change", "message"), [
    ({"columns": {"Bad Name": "x"}}, "field name"),
    ({"params": {"x": {"sql": "t.x = 1"}}}, ":value"),
    ({"params": {"x": {"type": "blob", "sql": "t.x = :value"}}}, "type must be"),
    ({"params": {"limit": {"sql": "t.x = :value"}}}, "built in"),
    ({"sort": {"fields": {"n": "missing"}}}, "not in columns"),
    ({"sort": {"default": "id", "order": "sideways"}}, "asc or desc"),
    ({"surprise": 1}, "unknown keys"),
    ({"key": ""}, "'key' is required"),
])
def test_a_bad_source_file_is_refused_at_load_with_its_reason(change, message) -> None:
    with pytest.raises(TemplateError, match=message):
        parse_source("demo/things", {**MINIMAL, **change})


def test_values_are_bound_never_formatted_into_the_sql(catalog) -> None:
    hostile = "x'); DROP TABLE participants; --"
    query = catalog.bind("ybb/participants", {"country": hostile, "search": hostile, "category": hostile}, 100)
    sql = query.read_sql(["id", "full_name"], ranged=True)
    assert hostile not in sql and "DROP" not in sql
    assert ":p_country" in sql and ":p_search" in sql
    assert query.values["p_country"] == hostile
    assert query.values["p_search"] == "%x'); DROP TABLE participants; --%"


def test_like_wildcards_in_a_search_are_literal(catalog) -> None:
    query = catalog.bind("ybb/participants", {"search": "100%_a\\b"}, 100)
    assert query.values["p_search"] == "%100\\%\\_a\\\\b%"


@pytest.mark.parametrize("sort_by", ["p.full_name; DROP TABLE users", "full_name DESC, (SELECT 1)", "1", "nope"])
def test_sort_by_is_an_allow_list(catalog, sort_by) -> None:
    with pytest.raises(EngineError) as caught:
        catalog.bind("ybb/participants", {"sort_by": sort_by}, 100)
    assert caught.value.code == "invalid_source_params"
    assert "sort_by" in caught.value.errors["source"]["params"]


def test_sort_names_map_to_fields_and_any_field_sorts(catalog) -> None:
    assert catalog.bind("ybb/participants", {"sort_by": "name", "sort_order": "ASC"}, 100).sort == ("full_name", "asc")
    assert catalog.bind("ybb/participants", {"sort_by": "institution"}, 100).sort == ("institution", "desc")
    assert catalog.bind("ybb/participants", {}, 100).sort == ("created_at", "desc")
    assert catalog.bind("ybb/payments", {}, 100).sort == ("payment_date", "desc")


def test_choices_and_typed_values(catalog) -> None:
    query = catalog.bind("ybb/participants", {"status": "go_to_interview", "has_paid": False, "program_id": "101",
                                              "date_to": "2025-01-31", "registration_form_status": "2"}, 100)
    assert "p.score_status = 'go_to_interview'" in query.predicates
    assert any(p.startswith("NOT EXISTS") for p in query.predicates)
    assert query.values == {"p_program_id": 101, "p_date_to": datetime(2025, 1, 31, 23, 59, 59),
                            "p_registration_form_status": 2}
    assert catalog.bind("ybb/participants", {"status": "all", "program_id": ""}, 100).predicates == ()


@pytest.mark.parametrize(("params", "bad"), [
    ({"program_id": "101; DROP"}, "program_id"),
    ({"program_id": [101, 102]}, "program_id"),
    ({"program_id": True}, "program_id"),
    ({"program_id": "+-5"}, "program_id"),
    ({"program_id": "²"}, "program_id"),
    ({"date_from": "yesterday"}, "date_from"),
    ({"has_paid": "maybe"}, "has_paid"),
    ({"limit": 0}, "limit"),
    ({"limit": 101}, "limit"),
    ({"sort_order": "sideways"}, "sort_order"),
    ({"search": "x" * 1001}, "search"),
    ({"unknown_filter": 1}, "unknown_filter"),
])
def test_invalid_params_are_a_422_naming_each(catalog, params, bad) -> None:
    with pytest.raises(EngineError) as caught:
        catalog.bind("ybb/participants", params, 100)
    assert caught.value.status == 422 and bad in caught.value.errors["source"]["params"]


def test_lenient_binding_ignores_unknown_names_and_payment_status_ignores_bad_values(catalog) -> None:
    query = catalog.bind("ybb/participants", {"unknown_filter": 1, "program_id": 101}, 100, strict=False)
    assert query.ignored == ("unknown_filter",) and query.applied == ("program_id",)
    payments = catalog.bind("ybb/payments", {"status": "not-a-status"}, 100)
    assert payments.ignored == ("status",) and payments.predicates == ()
    assert catalog.bind("ybb/payments", {"status": "success"}, 100).predicates == ("pay.status = 2",)


def test_an_unknown_source_is_a_422(catalog) -> None:
    with pytest.raises(EngineError) as caught:
        catalog.get("ybb/../../etc/passwd")
    assert caught.value.code == "unknown_source" and caught.value.status == 422


def test_limit_reads_once_in_sort_order_with_nulls_last(catalog) -> None:
    query = bind(catalog.get("ybb/payments"), {"limit": 5, "sort_by": "amount", "sort_order": "asc"}, 100)
    sql = query.read_sql(["id", "amount"], ranged=False)
    assert "CASE WHEN pay.amount IS NULL THEN 1 ELSE 0 END AS sort_nulls_last" in sql
    assert sql.endswith("ORDER BY sort_nulls_last, amount ASC, id LIMIT :row_limit")
    assert query.read_values() == {"row_limit": 5}


def test_a_missing_sources_dir_and_an_unknown_template_fail_at_start_up(tmp_path) -> None:
    from ybb_engine.templates import load_templates
    with pytest.raises(TemplateError, match="not a directory"):
        SourceCatalog.load([str(tmp_path / "typo")])
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "things.yaml").write_text(
        "connection: demo\ntemplate: things/none\nkey: t.id\nfrom: things t\ncolumns: {id: t.id}\n")
    catalog = SourceCatalog.load([str(tmp_path)])
    assert "demo/things" in catalog.definitions
    with pytest.raises(TemplateError, match="things/none"):
        catalog.check_templates(load_templates())
