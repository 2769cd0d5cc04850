"""Each of the 8 YBB templates, exported through Nginx with realistic generated records."""
from __future__ import annotations

import io

import pytest
from python_calamine import CalamineWorkbook

import samples
from support import TEMPLATES, expected_cell
from ybb_engine.templates import load_templates

pytestmark = pytest.mark.e2e

MAKERS = {"participants": samples.participants, "payments": samples.payments, "ambassadors": samples.ambassadors}
ROWS = 80


@pytest.mark.parametrize("template", TEMPLATES)
def test_template_export_reads_back_cell_for_cell(api, base_url: str, template: str) -> None:
    type_, name = template.split("/")
    records = MAKERS[type_](ROWS, seed=11)
    response = api.post(f"{base_url}/api/v1/exports",
                        json={"template": template, "records": records, "mode": "sync", "filename": name})
    assert response.status_code == 201, response.text
    job = response.json()
    assert job["rows"] == ROWS and job["filename"] == f"{name}.xlsx"
    content = api.get(job["links"]["file"]).content
    rows = CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_index(0).to_python()
    columns = load_templates().get(type_, name).columns
    assert rows[0] == [c.header for c in columns]
    assert len(rows) == ROWS + 1
    for record, row in zip(records, rows[1:]):
        got = [None if v == "" else v for v in row] + [None] * (len(columns) - len(row))
        assert got == [expected_cell(c, record[c.field]) for c in columns]
