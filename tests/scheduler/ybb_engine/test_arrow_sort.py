"""The Arrow sort of ordered exports gives exactly the order of operations.sort_rows: stable,
nulls last in both directions, over several partitions, for number and date-time keys."""
from __future__ import annotations

import random
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from ybb_engine import columnar, fastexport
from ybb_engine.columnar import Columns
from ybb_engine.operations import sort_rows
from ybb_engine.spec import ExportSpec


def _spec(sort: list[dict]) -> ExportSpec:
    return ExportSpec.from_dict({
        "columns": [{"field": "n", "header": "N", "type": "number"},
                    {"field": "at", "header": "At", "type": "datetime"},
                    {"field": "name", "header": "Name", "type": "string"}],
        "format": "xlsx", "filters": [], "sort": sort, "dedupe": [], "options": {}, "title": "T"})


def _parts(tmp_path, seed: int) -> list[str]:
    rng = random.Random(seed)
    paths = []
    for p in range(4):
        rows = rng.randrange(0, 60)
        n = [None if rng.random() < 0.1 else rng.choice([1.5, 2.0, 3.25, -1.0]) for _ in range(rows)]
        at = [None if rng.random() < 0.1 else datetime(2025, 1, 1) + timedelta(hours=rng.randrange(5))
              for _ in range(rows)]
        name = [f"r{p}-{i}" for i in range(rows)]
        columns = Columns(["n", "at", "name"], ["number", "datetime", "string"],
                          [pa.array(n, pa.float64()) if rows else pa.nulls(0), pa.array(at, pa.timestamp("us")),
                           pa.array(name, pa.string())], length=rows)
        path = tmp_path / f"prep-{seed}-{p}.pkl"
        columnar.save(columns, path)
        paths.append(str(path))
    return paths


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("sort", [[{"field": "n", "direction": "desc"}],
                                  [{"field": "at", "direction": "asc"}, {"field": "n", "direction": "desc"}],
                                  [{"field": "n", "direction": "asc"}]])
def test_arrow_order_is_sort_rows_order(tmp_path, seed, sort) -> None:
    sources = _parts(tmp_path, seed)
    spec = _spec(sort)
    fields = ["n", "at", "name"]
    fast = fastexport._arrow_sorted_ids(sources, spec, fields)
    assert fast is not None
    rows = []
    for path in sources:
        part = columnar.load(path)
        rows += [(*r, len(rows) + i) for i, r in enumerate(part.to_rows())]
    expected = [r[3] for r in sort_rows(rows, [(fields.index(k["field"]), k["direction"] == "desc") for k in sort])]
    assert fast.tolist() == expected
    assert fast.dtype == np.int64


def test_a_text_key_keeps_the_python_sort(tmp_path) -> None:
    assert fastexport._arrow_sorted_ids(_parts(tmp_path, 1), _spec([{"field": "name", "direction": "asc"}]),
                                        ["n", "at", "name"]) is None
