"""Every shipped template, exported to XLSX with sample records and read back."""
import pytest

import samples
from support import TEMPLATES, expected_cell

MAKERS = {"participants": samples.participants, "payments": samples.payments, "ambassadors": samples.ambassadors}
ROWS = 150


@pytest.mark.parametrize("template", TEMPLATES)
def test_template_exports_to_xlsx(run_export, read_calamine, read_openpyxl_rows, registry, template):
    type_, name = template.split("/")
    records = MAKERS[type_](ROWS, seed=3)
    result, path = run_export(records, {"template": template}, parts=3)
    columns = registry.get(type_, name).columns
    assert result.rows == ROWS and len(result.sheets) == 1
    assert result.warnings["coerced_values"] == 0 and result.warnings["control_chars_removed"] == 0
    rows = read_calamine(path)[result.sheets[0]]
    assert rows[0] == [c.header for c in columns]
    assert len(rows) == ROWS + 1
    for record, row in zip(records, rows[1:]):
        got = [None if v == "" else v for v in row] + [None] * (len(columns) - len(row))
        assert got == [expected_cell(c, record[c.field]) for c in columns]
    header = read_openpyxl_rows(path)[result.sheets[0]][0]
    assert list(header) == [c.header for c in columns]


def test_standard_participants_to_every_format(run_export, read_csv, read_json):
    records = samples.participants(40, seed=1)
    _, csv_path = run_export(records, {"template": "participants/standard", "format": "csv"}, name="p")
    table = read_csv(csv_path)
    assert table[0][3] == "Country" and table[0][-1] == "Registration Date"
    assert [row[1] for row in table[1:]] == [r["full_name"] for r in records]
    _, json_path = run_export(records, {"template": "participants/standard", "format": "json"}, name="q")
    data = read_json(json_path)
    assert [d["email"] for d in data] == [r["email"] for r in records]
    assert [d["form_status"] for d in data] == [r["form_status"] for r in records]
    assert all(d["created_at"].endswith("+00:00") for d in data)
