import pickle

import pytest

from reference.export import combine_partitions
from ybb_engine.errors import EngineError
from ybb_engine.cells import Partition, prepare_partition
from ybb_engine.fileformats import content_type, file_extension, sanitize_filename

COLUMNS = [{"field": "id", "type": "integer"}, {"field": "amount", "type": "number"},
           {"field": "day", "type": "date"}, {"field": "status", "type": "enum", "value_map": {"0": "No", "1": "Yes"}}]


def test_reject_lists_rows_and_fields_at_fault(spec_for):
    spec = spec_for({"columns": COLUMNS})
    records = [{"id": 1, "amount": "12", "day": "2024-01-01", "status": 1},
               {"id": "x", "amount": "twelve", "day": "2024-01-01", "status": 1},
               {"id": 3, "amount": 1, "day": "31/12/2024", "status": 7}]
    with pytest.raises(EngineError) as info:
        prepare_partition(records, spec, row_offset=100)
    error = info.value
    assert error.code == "invalid_records" and error.status == 422
    assert [(e["row"], e["field"]) for e in error.errors] == [(101, "id"), (101, "amount"), (102, "day"),
                                                              (102, "status")]
    assert "4 value(s)" in error.message
    assert "'twelve' is not a number" in error.errors[1]["message"]


def test_reject_reports_the_first_20(spec_for):
    spec = spec_for({"columns": COLUMNS})
    with pytest.raises(EngineError) as info:
        prepare_partition([{"id": "bad"}] * 30, spec)
    assert len(info.value.errors) == 20 and "30 value(s)" in info.value.message


def test_non_object_record_is_invalid(spec_for):
    spec = spec_for({"columns": COLUMNS})
    with pytest.raises(EngineError) as info:
        prepare_partition([{"id": 1}, "not a record"], spec)
    assert info.value.errors == [{"row": 1, "field": None, "message": "a record must be an object"}]


def test_coerce_writes_text_and_counts(spec_for):
    spec = spec_for({"columns": COLUMNS, "options": {"on_invalid": "coerce"}})
    part = prepare_partition([{"id": "x1", "amount": "twelve", "day": "soon", "status": 9},
                              {"id": 2, "amount": 2.5, "day": "2024-01-01", "status": 0}], spec)
    assert part.rows[0] == ("x1", "twelve", "soon", "9")
    assert part.warnings["coerced_values"] == 4


def test_empty_strings_are_null_except_in_text_columns(spec_for):
    spec = spec_for({"columns": [*COLUMNS, {"field": "note"}]})
    part = prepare_partition([{"id": "", "amount": "", "day": "", "status": "", "note": ""}], spec)
    assert part.rows == [(None, None, None, None, "")]


def test_partition_is_picklable_and_sized(spec_for):
    spec = spec_for({"columns": COLUMNS, "options": {"timezone": "Asia/Jakarta"}})
    part = prepare_partition([{"id": 1, "amount": 2, "day": "2024-01-01", "status": 1}] * 3, spec)
    again = pickle.loads(pickle.dumps(part))
    assert isinstance(again, Partition) and len(again) == 3 and again.rows == part.rows


def test_combine_sums_warnings(spec_for):
    spec = spec_for({"columns": COLUMNS})
    parts = [prepare_partition([{"amount": "NaN"}], spec), prepare_partition([{"amount": float("inf")}], spec, 1)]
    combined = combine_partitions(parts, spec)
    assert len(combined) == 2 and combined.warnings["non_finite_blanked"] == 2


def test_engine_error_survives_pickling():
    error = pickle.loads(pickle.dumps(EngineError("cell_overflow", "too long", [{"row": 1}], status=422)))
    assert (error.code, error.message, error.errors, error.status) == ("cell_overflow", "too long", [{"row": 1}], 422)


def test_content_types_and_extensions():
    assert content_type("xlsx") == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert content_type("csv").startswith("text/csv")
    assert content_type("json") == "application/json"
    assert content_type("ndjson") == "application/x-ndjson"
    assert [file_extension(f) for f in ("xlsx", "csv", "json", "ndjson")] == ["xlsx", "csv", "json", "ndjson"]
    with pytest.raises(EngineError):
        content_type("exe")


@pytest.mark.parametrize("name, fmt, expected", [
    ("Peserta Batch 7", "xlsx", "Peserta_Batch_7.xlsx"),
    ("report.xlsx", "xlsx", "report.xlsx"),
    ("report.csv", "xlsx", "report.csv.xlsx"),
    ("../../etc/passwd", "csv", "passwd.csv"),
    ("..\\..\\windows\\system32\\evil.bat", "json", "evil.bat.json"),
    ("Données élèves", "csv", "Donnees_eleves.csv"),
    ("مشاركون", "xlsx", "export.xlsx"),
    ("", "ndjson", "export.ndjson"),
    (None, "csv", "export.csv"),
    ("...", "csv", "export.csv"),
    ("a\x00b\r\nc\"d;e", "csv", "a_b_c_d_e.csv"),
    ("CON", "csv", "_CON.csv"),
    ("x" * 400, "xlsx", "x" * 145 + ".xlsx"),
])
def test_sanitize_filename(name, fmt, expected):
    assert sanitize_filename(name, fmt) == expected


def test_sanitize_filename_default():
    assert sanitize_filename("////", "csv", default="participants") == "participants.csv"
