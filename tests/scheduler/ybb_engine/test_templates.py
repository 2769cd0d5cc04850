import json
from pathlib import Path
import textwrap

import pytest

from ybb_engine.errors import EngineError, TemplateError
from ybb_engine.spec import build_spec
from ybb_engine.templates import column_from_dict, infer_columns, load_templates

EXPECTED_FIELDS = {
    ("participants", "standard"): "id full_name email nationality institution phone_number category form_status "
                                  "payment_status created_at",
    ("participants", "detailed"): "id full_name email gender birthdate nationality education_level major institution "
                                  "organizations phone_number current_address emergency_contact category form_status "
                                  "payment_status ref_code_ambassador created_at",
    ("participants", "summary"): "full_name email nationality category form_status",
    ("participants", "complete"): "id user_id account_id full_name email gender birthdate nationality nationality_flag "
                                  "nationality_code occupation education_level major institution organizations "
                                  "phone_number country_code current_address origin_address picture_url "
                                  "instagram_account emergency_contact contact_relation disease_history tshirt_size "
                                  "category experiences achievements resume_url knowledge_source source_account_name "
                                  "twibbon_link requirement_link ref_code_ambassador program_id is_active is_deleted "
                                  "created_at updated_at",
    ("payments", "standard"): "id participant_name participant_email amount currency usd_amount status_text "
                              "payment_method program_payment_name payment_date transaction_code program_name",
    ("payments", "detailed"): "id transaction_code order_id participant_id participant_name participant_email "
                              "program_payment_name payment_category payment_type payment_method amount usd_amount "
                              "currency status status_text payment_date proof_url account_name source_name notes "
                              "rejection_reason payment_url program_name program_theme created_at",
    ("ambassadors", "standard"): "id name email ref_code institution total_referrals is_active created_at",
    ("ambassadors", "detailed"): "id name email ref_code program_id institution gender phone_number notes "
                                 "total_referrals successful_referrals is_active created_at updated_at",
}


def test_exactly_the_shipped_templates_load(registry):
    assert {(t.type, t.name) for t in registry.all()} == set(EXPECTED_FIELDS)


@pytest.mark.parametrize("key", sorted(EXPECTED_FIELDS), ids="/".join)
def test_template_columns(registry, key):
    template = registry.get(*key)
    assert [c.field for c in template.columns] == EXPECTED_FIELDS[key].split()
    for column in template.columns:
        assert column.header[0].isupper() and "_" not in column.header, column
    assert json.loads(json.dumps(template.to_dict()))["columns"][0]["field"] == template.columns[0].field


def test_headers_and_types(registry):
    standard = {c.field: c for c in registry.get("participants", "standard").columns}
    assert standard["nationality"].header == "Country"
    assert standard["created_at"].header == "Registration Date"
    assert standard["created_at"].type == "datetime"
    assert standard["full_name"].header == "Full Name"
    assert standard["phone_number"].header == "Phone Number"
    assert standard["phone_number"].type == "string"
    payments = {c.field: c for c in registry.get("payments", "detailed").columns}
    assert payments["transaction_code"].type == "string"
    assert payments["order_id"].type == "string"
    assert payments["amount"].type == "currency" and payments["amount"].currency_field == "currency"
    assert payments["usd_amount"].type == "currency" and "USD" in payments["usd_amount"].format


# The old service's headers (tests/compat/original_templates.json, from its config/ybb_export_config.py).
ORIGINAL = json.loads((Path(__file__).parents[2] / "compat" / "original_templates.json").read_text(encoding="utf-8"))
# The old complete template called nationality_code "Country Code" too; headers are unique here.
HEADER_EXCEPTIONS = {("participants", "complete", "nationality_code"): "Nationality Code"}


@pytest.mark.parametrize("key", sorted(EXPECTED_FIELDS), ids="/".join)
def test_headers_are_the_old_services(registry, key):
    original = ORIGINAL["templates"]["/".join(key)]
    template = registry.get(*key)
    assert [c.field for c in template.columns] == original["fields"]
    pairs = zip(original["fields"], original["headers"], strict=True)
    expected = [HEADER_EXCEPTIONS.get((*key, f), h) for f, h in pairs]
    assert [c.header for c in template.columns] == expected
    assert len({c.header for c in template.columns}) == len(template.columns)


def test_changed_headers(registry):
    summary = [c.header for c in registry.get("participants", "summary").columns]
    assert summary == ["Name", "Email", "Country", "Category", "Status"]
    payments = {c.field: c.header for c in registry.get("payments", "standard").columns}
    assert (payments["id"], payments["participant_email"], payments["usd_amount"]) == ("Payment ID", "Email",
                                                                                        "USD Amount")
    ambassadors = {c.field: c.header for c in registry.get("ambassadors", "standard").columns}
    assert (ambassadors["name"], ambassadors["ref_code"], ambassadors["is_active"]) == (
        "Ambassador Name", "Reference Code", "Active Status")
    complete = {c.field: c.header for c in registry.get("participants", "complete").columns}
    assert (complete["nationality"], complete["country_code"], complete["created_at"]) == (
        "Nationality", "Country Code", "Created At")


def test_value_maps(registry):
    participants = {c.field: c for c in registry.get("participants", "complete").columns}
    standard = {c.field: c for c in registry.get("participants", "standard").columns}
    payments = {c.field: c for c in registry.get("payments", "detailed").columns}
    assert dict(standard["form_status"].value_map) == {"0": "Not Started", "1": "In Progress", "2": "Submitted"}
    assert dict(standard["payment_status"].value_map) == {
        "0": "Created", "1": "Pending", "2": "Success", "3": "Cancelled", "4": "Rejected"}
    assert dict(payments["status"].value_map) == dict(standard["payment_status"].value_map)
    assert dict(payments["payment_method"].value_map) == {"1": "Midtrans", "2": "Manual Transfer"}
    assert dict(participants["is_active"].value_map) == {"true": "Yes", "false": "No"}
    assert dict(standard["category"].value_map) == {"fully_funded": "Fully Funded", "self_funded": "Self Funded"}


def test_unknown_template_is_404(registry):
    with pytest.raises(EngineError) as info:
        registry.get("participants", "nope")
    assert info.value.code == "unknown_template" and info.value.status == 404
    assert "participants/standard" in info.value.errors["available"]


GOOD = """
type: things
fields:
  id: {header: ID, type: integer}
templates:
  standard:
    title: Things
    columns: [id]
"""


@pytest.mark.parametrize("body, needle", [
    ("type: things\ntemplates: {standard: {title: T, columns: [{field: id, header: ID, type: strng}]}}",
     "column 1 ('id'): type must be one of"),
    ("type: things\ntemplates: {standard: {title: T, columns: [{field: id, header: ID}]}}", "column 1 ('id'): no type"),
    ("type: things\ntemplates: {standard: {title: T, columns: [{field: 'bad field', type: string}]}}", "field must be"),
    ("type: things\ntemplates: {standard: {title: T, columns: [{field: a, type: string, colour: red}]}}",
     "unknown key 'colour'"),
    ("type: things\ntemplates: {standard: {title: T, columns: [{field: a, type: string, width: 900}]}}", "width"),
    ("type: things\ntemplates: {standard: {title: T, columns: [{field: a, type: boolean, value_map: {maybe: M}}]}}",
     "not a boolean"),
    ("type: things\ntemplates: {standard: {title: T, columns: [{field: a, type: currency, currency_field: cur}]}}",
     "currency_field 'cur' is not a column"),
    ("type: things\ntemplates: {standard: {title: T, columns: [{field: a, type: string, currency_field: a}]}}",
     "only for columns of type currency"),
    ("type: things\ntemplates: {standard: {title: T, columns: [a, a]}}\nfields: {a: {type: string}}", "listed twice"),
    ("type: things\ntemplates: {standard: {columns: [a]}}\nfields: {a: {type: string}}", "'title'"),
    ("type: things\ntemplates: {}", "'templates'"),
    ("type: Things!\ntemplates: {standard: {title: T, columns: [a]}}", "'type'"),
    ("type: things\ntemplates: {standard: {title: T, columns: [a]}}\nextra: 1", "unknown key(s) extra"),
    ("type: things\ntemplates: [unclosed", "not valid YAML"),
    ("- just\n- a list", "must be a mapping"),
])
def test_invalid_template_file_names_the_problem(tmp_path, body, needle):
    (tmp_path / "things.yaml").write_text(body, encoding="utf-8")
    with pytest.raises(TemplateError) as info:
        load_templates(tmp_path)
    assert "things.yaml" in str(info.value)
    assert needle in str(info.value)


def test_valid_custom_directory_and_duplicate_type(tmp_path):
    (tmp_path / "a.yaml").write_text(GOOD, encoding="utf-8")
    registry = load_templates(tmp_path)
    assert registry.get("things", "standard").columns[0].header == "ID"
    (tmp_path / "b.yaml").write_text(GOOD, encoding="utf-8")
    with pytest.raises(TemplateError, match="b.yaml: type 'things' is already defined in a.yaml"):
        load_templates(tmp_path)


def test_empty_directory_is_an_error(tmp_path):
    with pytest.raises(TemplateError, match="no template files"):
        load_templates(tmp_path)


def test_template_column_can_override_a_field(tmp_path):
    (tmp_path / "t.yaml").write_text(textwrap.dedent("""
        type: things
        fields:
          id: {header: ID, type: integer, width: 8}
        templates:
          standard:
            title: Things
            columns: [{field: id, header: Thing Number}]
    """), encoding="utf-8")
    column = load_templates(tmp_path).get("things", "standard").columns[0]
    assert (column.header, column.type, column.width) == ("Thing Number", "integer", 8.0)


def test_column_from_dict():
    column = column_from_dict({"field": "paid", "type": "boolean", "value_map": {"1": "Paid", "0": "Unpaid"}})
    assert column.header == "Paid"
    assert dict(column.value_map) == {"true": "Paid", "false": "Unpaid"}
    with pytest.raises(EngineError) as info:
        column_from_dict({"field": "x", "type": "money", "header": ""})
    assert info.value.code == "invalid_columns"
    assert len(info.value.errors["0"]) == 2


def test_infer_columns():
    columns = infer_columns([
        {"id": 1, "name": "Ana", "phone": "0812", "paid": True, "amount": 1.5, "day": "2024-01-15",
         "at": "2024-01-15 10:30:00", "price": "150000.00", "nik": "3201234567890123", "empty": None},
        {"id": 2, "name": "Bo", "phone": "0813", "paid": False, "amount": 2, "day": "2024-02-01",
         "at": "2024-01-15T10:30:00+07:00", "price": "99", "nik": "3201234567890124", "empty": None},
    ])
    types = {c.field: c.type for c in columns}
    assert types == {"id": "integer", "name": "string", "phone": "string", "paid": "boolean", "amount": "number",
                     "day": "date", "at": "datetime", "price": "number", "nik": "string", "empty": "string"}
    assert [c.header for c in columns][:2] == ["ID", "Name"]
    with pytest.raises(EngineError, match="Cannot infer"):
        infer_columns([])


def test_docs_list_every_template_column(registry):
    docs = (Path(__file__).parents[3] / "docs" / "templates.md").read_text(encoding="utf-8")
    for template in registry.all():
        section = docs.split(f"### `{template.type}/{template.name}`", 1)[1].split("\n### ", 1)[0]
        for index, column in enumerate(template.columns, start=1):
            assert f"| {index} | `{column.field}` | {column.header} | {column.type} |" in section


def test_every_request_example_in_the_docs_is_valid(registry):
    docs = (Path(__file__).parents[3] / "docs" / "templates.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in docs.split("```json\n")[1:]]
    requests = []
    for block in blocks:
        try:
            requests.append(json.loads(block))
        except json.JSONDecodeError:
            requests += [json.loads(line) for line in block.splitlines() if line.strip()]
    assert len(requests) >= 30
    for request in requests:
        build_spec({k: v for k, v in request.items() if k not in ("records", "filename")}, registry,
                   request.get("records", []))
