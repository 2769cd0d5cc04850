"""The load tests' own records (loadtests/records.py), and that the locustfile stays a black-box
client: it imports nothing from the project."""
from __future__ import annotations

import ast
import importlib.util

from devstack import ROOT
from ybb_engine.templates import load_templates

LOADTESTS = ROOT / "loadtests"
PROJECT_MODULES = {"ybb_engine", "ybb_api", "devstack", "samples", "support", "worker_preload"}


def _records_module():
    spec = importlib.util.spec_from_file_location("loadtest_records", LOADTESTS / "records.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _imported(path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_records_have_every_field_the_scenarios_export_and_are_seeded() -> None:
    participants = _records_module().participants
    records = participants(500, seed=2024)
    templates = load_templates()
    for name in ("complete", "standard"):  # large_async_50k sends both; the others send standard
        fields = {c.field for c in templates.get("participants", name).columns}
        assert all(fields <= set(r) for r in records), name
    assert [r["id"] for r in records] == list(range(1, 501))
    assert participants(500, seed=2024) == records
    assert participants(500, seed=2025) != records


def test_the_locustfile_and_its_records_import_no_project_code() -> None:
    for path in (LOADTESTS / "locustfile.py", LOADTESTS / "records.py"):
        assert not _imported(path) & PROJECT_MODULES, path
        assert "services" not in path.read_text(), f"{path} reaches into services/"
