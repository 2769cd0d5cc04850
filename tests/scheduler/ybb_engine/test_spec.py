import json
import pickle

import pytest

from ybb_engine.errors import EngineError
from ybb_engine.spec import ExportSpec, build_spec


def test_template_spec_round_trips(registry):
    spec = build_spec({"template": "payments/standard", "format": "csv", "sort": ["-amount"],
                       "options": {"null_display": "N/A", "csv": {"delimiter": ";"}}}, registry)
    data = json.loads(json.dumps(spec.to_dict()))
    again = ExportSpec.from_dict(data)
    assert again.to_dict() == spec.to_dict()
    assert again.options.csv.delimiter == ";" and again.options.null_display == "N/A"
    assert again.title == "Payments"
    assert pickle.loads(pickle.dumps(again)).to_dict() == spec.to_dict()


def test_defaults(registry):
    spec = build_spec({"template": "participants/summary"}, registry)
    assert spec.format == "xlsx"
    assert spec.options.on_invalid == "reject" and spec.options.on_overflow == "truncate"
    assert spec.options.csv.encoding == "utf-8" and spec.options.csv.line_terminator == "\r\n"
    assert spec.filters == [] and spec.sort == [] and spec.dedupe == [] and spec.extra_columns == []


def test_request_columns_and_inference(registry):
    spec = build_spec({"columns": [{"field": "name", "header": "Name"}, {"field": "n", "type": "integer"}]}, registry)
    assert [(c.field, c.type) for c in spec.columns] == [("name", "string"), ("n", "integer")]
    spec = build_spec({}, registry, sample=[{"a": 1, "b": "x"}])
    assert [(c.field, c.type) for c in spec.columns] == [("a", "integer"), ("b", "string")]


def _error(registry, request) -> EngineError:
    with pytest.raises(EngineError) as info:
        build_spec(request, registry)
    return info.value


@pytest.mark.parametrize("request_, code, needle", [
    ({"template": "participants/standard", "filters": [{"field": "shoe_size", "op": "eq", "value": 1}]},
     "unknown_field", "shoe_size"),
    ({"template": "participants/standard", "sort": ["-shoe_size"]}, "unknown_field", "shoe_size"),
    ({"template": "participants/standard", "sort": [{"field": "bogus"}]}, "unknown_field", "bogus"),
    ({"template": "participants/standard", "dedupe": "bogus"}, "unknown_field", "bogus"),
    ({"template": "participants/standard", "select": ["email", "bogus"]}, "unknown_field", "bogus"),
    ({"template": "participants/standard", "rename": {"bogus": "X"}}, "unknown_field", "bogus"),
    ({"template": "participants/standard", "order": ["bogus"]}, "unknown_field", "bogus"),
    ({"template": "participants/standard", "options": {"split_by": "bogus"}}, "unknown_field", "bogus"),
    ({"template": "participants/standard", "options": {"colour": "red"}}, "invalid_option", "colour"),
    ({"template": "participants/standard", "options": {"csv": {"sep": ";"}}}, "invalid_option", "csv.sep"),
    ({"template": "participants/standard", "options": {"csv": {"delimiter": ";;"}}}, "invalid_option", "delimiter"),
    ({"template": "participants/standard", "options": {"csv": {"delimiter": "'", "quotechar": "'"}}},
     "invalid_option", "quotechar"),
    ({"template": "participants/standard", "options": {"csv": {"encoding": "latin-1"}}}, "invalid_option", "encoding"),
    ({"template": "participants/standard", "options": {"timezone": "Mars/Olympus"}}, "invalid_option", "timezone"),
    ({"template": "participants/standard", "options": {"on_invalid": "ignore"}}, "invalid_option", "on_invalid"),
    ({"template": "participants/standard", "options": {"json": {"formatted": "yes"}}}, "invalid_option", "formatted"),
    ({"template": "participants/standard", "format": "csv", "options": {"split_by": "category"}},
     "invalid_option", "split_by"),
    ({"template": "participants/standard", "format": "pdf"}, "invalid_format", "format"),
    ({"template": "participants/standard", "columns": [{"field": "a"}]}, "invalid_columns", "template"),
    ({"template": "participants"}, "unknown_template", "template"),
    ({"columns": [{"field": "a"}, {"field": "a"}]}, "invalid_columns", "1"),
    ({"template": "participants/standard", "rename": {"email": "Full Name"}}, "invalid_operation", "rename"),
    ({"template": "participants/standard", "filters": [{"field": "email", "op": "like", "value": "x"}]},
     "invalid_operation", "filters[0].op"),
    ({"template": "participants/standard", "filters": [{"field": "id", "op": "gt", "value": "ten"}]},
     "invalid_operation", "filters[0].value"),
    ({"template": "participants/standard", "filters": [{"field": "id", "op": "between", "value": [1]}]},
     "invalid_operation", "filters[0].value"),
    ({"template": "participants/standard", "filters": [{"field": "id", "op": "in", "value": 3}]},
     "invalid_operation", "filters[0].value"),
    ({"template": "participants/standard", "filters": [{"field": "email", "op": "eq", "value": None}]},
     "invalid_operation", "filters[0].value"),
    ({"template": "participants/complete", "filters": [{"field": "is_active", "op": "gt", "value": 1}]},
     "invalid_operation", "filters[0].op"),
    ({"template": "participants/standard", "filters": {"field": "id"}}, "invalid_operation", "filters"),
    ({"template": "participants/standard", "filters": [{"any": []}]}, "invalid_operation", "filters[0]"),
    ({"template": "participants/standard", "sort": [{"field": "id", "direction": "up"}]},
     "invalid_operation", "sort[0].direction"),
])
def test_invalid_requests(registry, request_, code, needle):
    error = _error(registry, request_)
    assert error.code == code
    assert needle in error.message or needle in json.dumps(error.errors)
    json.dumps(error.errors)  # the API sends it as JSON


def test_unknown_field_message_names_the_field(registry):
    error = _error(registry, {"template": "participants/standard",
                              "filters": [{"any": [{"field": "email", "op": "not_null"},
                                                   {"field": "shoe_size", "op": "is_null"}]}]})
    assert error.code == "unknown_field" and error.status == 422
    assert "shoe_size" in error.message
    assert error.errors["filters[0].any[1]"] == "unknown field 'shoe_size'"


def test_every_option_error_is_reported_at_once(registry):
    error = _error(registry, {"template": "participants/standard",
                              "options": {"a": 1, "on_overflow": "x", "csv": {"header": "no"}}})
    assert set(error.errors) == {"a", "on_overflow", "csv.header"}


def test_extra_columns_for_fields_not_written(registry):
    spec = build_spec({"template": "payments/detailed", "select": ["participant_name", "amount"],
                       "filters": [{"field": "status", "op": "eq", "value": 2}], "sort": ["-payment_date"],
                       "dedupe": ["participant_email"], "options": {"split_by": "program_name"}}, registry)
    assert [c.field for c in spec.columns] == ["participant_name", "amount"]
    assert [c.field for c in spec.extra_columns] == ["status", "payment_date", "participant_email", "program_name",
                                                     "currency"]


def test_currency_field_outside_the_columns_is_read_as_text(registry):
    spec = build_spec({"columns": [{"field": "total", "type": "currency", "currency_field": "cur"}]}, registry)
    assert [(c.field, c.type) for c in spec.extra_columns] == [("cur", "string")]


def test_title_option(registry):
    assert build_spec({"template": "participants/standard", "options": {"title": "Batch 7"}}, registry).title == "Batch 7"
