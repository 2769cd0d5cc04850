"""The bounds on what one request can grow (ybb_engine.limits, issue 13): columns given or
inferred, select/order/rename, field names, filters and `in` lists, records per request."""
from __future__ import annotations

import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from ybb_engine.errors import EngineError
from ybb_engine.limits import EXCEL_MAX_COLUMNS, Limits
from ybb_engine.operations import compile_filters
from ybb_engine.service import ExportRequest, ExportService
from ybb_engine.settings import EngineSettings
from ybb_engine.spec import build_spec
from ybb_engine.templates import Column
from ybb_engine.values import TimeContext

COLUMNS = [{"field": "name", "type": "string"}, {"field": "n", "type": "integer"}]
LONG = "f" * 256  # one over MAX_FIELD_NAME_CHARS' default


def _refused(registry, request: dict, sample=(), limits: Limits | None = None) -> EngineError:
    with pytest.raises(EngineError) as info:
        build_spec(request, registry, sample, *([limits] if limits else []))
    return info.value


def _limit(error: EngineError, where: str, limit: int) -> None:
    assert (error.code, error.status) == ("limit_exceeded", 422), error
    assert isinstance(error.errors, dict) and where in error.errors and error.errors["limit"] == limit, error.errors


# --- settings ------------------------------------------------------------------------------

def test_defaults_and_the_environment(monkeypatch) -> None:
    assert Limits() == EngineSettings().limits() == Limits(1_048_575, 16_384, 255, 100, 10_000)
    for name, value in {"MAX_RECORDS_PER_REQUEST": "7", "MAX_COLUMNS": "6", "MAX_FIELD_NAME_CHARS": "5",
                        "MAX_FILTERS": "4", "MAX_FILTER_VALUES": "3"}.items():
        monkeypatch.setenv(name, value)
    assert EngineSettings().limits() == Limits(records=7, columns=6, field_name_chars=5, filters=4, filter_values=3)


def test_max_columns_is_capped_at_excels_16384() -> None:
    assert Limits(columns=100_000).columns == EXCEL_MAX_COLUMNS == 16_384
    assert EngineSettings(MAX_COLUMNS=20_000).limits().columns == 16_384


# --- columns -------------------------------------------------------------------------------

def test_an_inferred_export_of_17000_columns_is_refused(registry) -> None:
    record = {f"c{i}": i for i in range(17_000)}
    _limit(_refused(registry, {}, [record]), "columns (inferred from the records' keys)", 16_384)
    # The keys of every sampled record count, not only those of the first one.
    records = [{f"a{i}": 1 for i in range(9_000)}, {f"b{i}": 1 for i in range(9_000)}]
    _limit(_refused(registry, {}, records), "columns (inferred from the records' keys)", 16_384)
    assert len(build_spec({}, registry, [{f"c{i}": i for i in range(16_384)}]).columns) == 16_384


def test_explicit_columns_over_the_limit_are_refused(registry) -> None:
    columns = [{"field": f"c{i}"} for i in range(16_385)]
    _limit(_refused(registry, {"columns": columns}), "columns", 16_384)
    _limit(_refused(registry, {"columns": COLUMNS}, limits=Limits(columns=1)), "columns", 1)


def test_select_order_and_rename_over_the_limit_are_refused(registry) -> None:
    small = Limits(columns=2)
    columns = [{"field": "a"}, {"field": "b"}]
    _limit(_refused(registry, {"columns": columns, "select": ["a", "b", "a"]}, limits=small), "select", 2)
    _limit(_refused(registry, {"columns": columns, "order": ["a"] * 3}, limits=small), "order", 2)
    _limit(_refused(registry, {"columns": columns, "rename": {"a": "A", "b": "B", "c": "C"}}, limits=small),
           "rename", 2)
    _limit(_refused(registry, {"template": "participants/standard", "select": ["id"] * 16_385}), "select", 16_384)


# --- field names ---------------------------------------------------------------------------

def test_a_record_key_over_the_limit_is_refused_for_inference(registry) -> None:
    # Before: silently left out of the inferred columns.
    error = _refused(registry, {}, [{"a": 1}, {"a": 2, LONG: 3}])
    _limit(error, "records[1]", 255)
    assert LONG not in error.message  # the name is not echoed whole


@pytest.mark.parametrize("request_, where", [
    ({"columns": [{"field": LONG}]}, "columns[0].field"),
    ({"columns": [{"field": "a", "type": "currency", "currency_field": LONG}]}, "columns[0].currency_field"),
    ({"columns": COLUMNS, "filters": [{"field": LONG, "op": "eq", "value": 1}]}, "filters[0]"),
    ({"columns": COLUMNS, "filters": [{"any": [{"field": LONG, "op": "is_null"}]}]}, "filters[0].any[0]"),
    ({"columns": COLUMNS, "sort": [LONG]}, "sort[0]"),
    ({"columns": COLUMNS, "sort": [{"field": LONG, "direction": "desc"}]}, "sort[0]"),
    ({"columns": COLUMNS, "dedupe": LONG}, "dedupe[0]"),
    ({"columns": COLUMNS, "select": [LONG]}, "select[0]"),
    ({"columns": COLUMNS, "order": [LONG]}, "order[0]"),
    ({"columns": COLUMNS, "rename": {LONG: "x"}}, "rename"),
], ids=["columns", "currency_field", "filter", "filter-group", "sort", "sort-object", "dedupe", "select",
        "order", "rename"])
def test_a_field_name_over_the_limit_is_refused_everywhere(registry, request_: dict, where: str) -> None:
    error = _refused(registry, request_)
    _limit(error, where, 255)
    assert LONG not in error.message and LONG not in str(error.errors)


def test_the_field_name_limit_is_configurable(registry) -> None:
    _limit(_refused(registry, {"columns": COLUMNS, "sort": ["name"]}, limits=Limits(field_name_chars=3)),
           "columns[0].field", 3)
    _limit(_refused(registry, {"columns": [{"field": "abc"}, {"field": "abcd"}]}, limits=Limits(field_name_chars=3)),
           "columns[1].field", 3)
    _limit(_refused(registry, {"columns": [{"field": "abc", "type": "string"}],
                               "options": {"split_by": "abcd"}}, limits=Limits(field_name_chars=3)),
           "options.split_by", 3)


# --- filters -------------------------------------------------------------------------------

def _condition(i: int) -> dict:
    return {"field": "n", "op": "eq", "value": i}


def test_too_many_filters_are_refused(registry) -> None:
    spec = build_spec({"columns": COLUMNS, "filters": [_condition(i) for i in range(100)]}, registry)
    assert len(spec.filters) == 100
    _limit(_refused(registry, {"columns": COLUMNS, "filters": [_condition(i) for i in range(101)]}), "filters", 100)
    # Counted across groups: 3 groups of 40 conditions.
    grouped = [{"any": [_condition(i) for i in range(40)]} for _ in range(3)]
    _limit(_refused(registry, {"columns": COLUMNS, "filters": grouped}), "filters", 100)
    nested = [{"all": [{"any": [_condition(i) for i in range(60)]}, {"any": [_condition(i) for i in range(60)]}]}]
    _limit(_refused(registry, {"columns": COLUMNS, "filters": nested}), "filters", 100)
    _limit(_refused(registry, {"columns": COLUMNS, "filters": [_condition(1)] * 3}, limits=Limits(filters=2)),
           "filters", 2)


def test_in_lists_take_up_to_max_filter_values(registry) -> None:
    values = list(range(10_000))
    spec = build_spec({"columns": COLUMNS, "filters": [{"field": "n", "op": "in", "value": values}]}, registry)
    assert spec.filters[0]["value"] == values  # the old bound was 1,000
    for op in ("in", "not_in"):
        error = _refused(registry, {"columns": COLUMNS, "filters": [{"field": "n", "op": op, "value": values + [1]}]})
        _limit(error, "filters[0].value", 10_000)
    error = _refused(registry, {"columns": COLUMNS, "filters": [{"field": "name", "op": "in", "value": ["a", "b"]}]},
                     limits=Limits(filter_values=1))
    _limit(error, "filters[0].value", 1)


def test_in_matches_as_equality_did_with_one_lookup_per_row() -> None:
    ctx = TimeContext()
    columns = [Column("n", "N", "number"), Column("d", "D", "date"), Column("t", "T", "datetime"),
               Column("s", "S", "string")]
    keep = compile_filters([{"field": "n", "op": "in", "value": [1, "2.5", 3.0]}], columns, ctx)
    assert keep is not None
    rows = [(1.0, None, None, None), (2.5, None, None, None), (3, None, None, None), ("1", None, None, None),
            (4, None, None, None), (None, None, None, None)]
    assert [keep(r) for r in rows] == [True, True, True, False, False, False]
    keep = compile_filters([{"field": "t", "op": "in", "value": ["2024-01-15", "2024-02-01T10:00:00+07:00"]}],
                           columns, ctx)
    assert keep is not None
    assert [keep((None, None, t, None)) for t in (
        datetime(2024, 1, 15, 23, 59, tzinfo=UTC), datetime(2024, 2, 1, 3, 0, tzinfo=UTC),
        datetime(2024, 2, 1, 3, 1, tzinfo=UTC), "2024-01-15")] == [True, True, False, False]
    keep = compile_filters([{"field": "d", "op": "not_in", "value": ["2024-01-15"]}], columns, ctx)
    assert keep is not None
    assert [keep((None, d, None, None)) for d in (date(2024, 1, 15), date(2024, 1, 16), None, "x")] == \
        [False, True, True, True]
    status = [Column("s", "S", "enum", value_map={"0": "Created", "2": "Success", "3": "Success"})]
    keep = compile_filters([{"field": "s", "op": "in", "value": ["Success", 0, "Nope"]}], status, ctx)
    assert keep is not None
    assert [keep((v,)) for v in (0, 1, 2, 3, "Success", None)] == [True, False, True, True, True, False]


# --- records per request (the service) ------------------------------------------------------

@pytest.fixture
def service(tmp_path: Path) -> ExportService:
    # No cluster: every refusal below comes before the service needs one.
    return ExportService.from_settings(EngineSettings(DATA_DIR=str(tmp_path / "data"), MAX_RECORDS_PER_REQUEST=3,
                                                      DASK_SCHEDULER_ADDRESS="tcp://127.0.0.1:9"))


def test_records_over_the_limit_are_a_413_in_create_and_append(service: ExportService) -> None:
    body = {"columns": COLUMNS, "records": [{"name": "a", "n": 1}] * 4, "format": "csv"}
    with pytest.raises(EngineError) as info:
        service.create(ExportRequest(tenant="t", body=body))
    assert (info.value.code, info.value.status) == ("too_many_records", 413)
    assert info.value.errors == {"records": "at most 3 records per request", "limit": 3}
    assert service.store.list(None, 10, 0)[1] == 0  # no job was created

    job = service.create(ExportRequest(tenant="t", body={"columns": COLUMNS, "upload": True}))
    with pytest.raises(EngineError) as info:
        service.append(job, [{"name": "a", "n": 1}] * 4)
    assert (info.value.code, info.value.status) == ("too_many_records", 413)
    assert service.append(job, [{"name": "a", "n": 1}] * 3).rows_total == 3
    assert service.get(job.id).rows_total == 3  # the refused batch counted nothing


def test_the_service_passes_its_limits_to_the_spec(service: ExportService) -> None:
    service.settings.MAX_COLUMNS = 1
    with pytest.raises(EngineError) as info:
        service.create(ExportRequest(tenant="t", body={"columns": COLUMNS, "upload": True}))
    _limit(info.value, "columns", 1)


def test_a_spec_of_16384_columns_with_select_order_and_rename_builds_in_linear_time(registry) -> None:
    # headers.count(h) per header, fields[:index] and `not in fields` per column made it quadratic
    # (about 8 s here); linear, it takes a fraction of a second.
    columns = [{"field": f"c{i}", "type": "integer"} for i in range(16_384)]
    fields = [c["field"] for c in columns]
    started = time.monotonic()
    spec = build_spec({"columns": columns, "select": fields, "order": fields[::-1],
                       "rename": {f: f.upper() for f in fields}}, registry)
    inferred = build_spec({}, registry, [dict.fromkeys(fields, 1)])
    assert time.monotonic() - started < 3
    assert [c.header for c in spec.columns] == [f.upper() for f in fields[::-1]]
    assert len(inferred.columns) == 16_384
