from datetime import date

import pytest

from reference.export import combine_partitions, prepare_partition

COLUMNS = [
    {"field": "id", "type": "integer"},
    {"field": "name", "type": "string"},
    {"field": "score", "type": "number"},
    {"field": "joined", "type": "date"},
    {"field": "seen", "type": "datetime"},
    {"field": "active", "type": "boolean"},
    {"field": "status", "type": "enum", "value_map": {"0": "Not Started", "1": "In Progress", "2": "Submitted"}},
]
RECORDS = [
    {"id": 1, "name": "Ana", "score": 10.5, "joined": "2024-01-15", "seen": "2024-01-15 08:00:00", "active": 1,
     "status": 0},
    {"id": 2, "name": "bob", "score": -3, "joined": "2024-02-01", "seen": "2024-02-01 23:59:59", "active": 0,
     "status": 2},
    {"id": 3, "name": "Ana", "score": None, "joined": None, "seen": None, "active": None, "status": 1},
    {"id": 4, "name": "Çelik", "score": 99, "joined": "2023-12-31", "seen": "2023-12-31T23:00:00Z", "active": "true",
     "status": "2"},
    {"id": 5, "name": None, "score": "7", "joined": "2024-03-10", "seen": 1710028800, "active": False, "status": 1},
]


@pytest.fixture
def ids(spec_for):
    """The ids left after running a request's operations over RECORDS in `parts` partitions."""
    def run(request: dict, records=RECORDS, parts: int = 1) -> list[int]:
        spec = spec_for({"columns": COLUMNS, **request})
        size = -(-len(records) // parts)
        prepared = [prepare_partition(records[i:i + size], spec, i) for i in range(0, len(records), size)]
        combined = combine_partitions(prepared, spec)
        position = combined.fields.index("id")
        return [row[position] for row in combined.rows]
    return run


def where(field, op, value=None):
    condition = {"field": field, "op": op}
    if value is not None:
        condition["value"] = value
    return {"filters": [condition]}


@pytest.mark.parametrize("filters, expected", [
    (where("id", "eq", 2), [2]),
    (where("id", "eq", "2"), [2]),
    (where("name", "eq", "Ana"), [1, 3]),
    (where("name", "ne", "Ana"), [2, 4, 5]),  # null is "not equal"
    (where("id", "in", [1, 4, 9]), [1, 4]),
    (where("name", "not_in", ["Ana", "bob"]), [4, 5]),
    (where("score", "gt", 7), [1, 4]),
    (where("score", "gte", 7), [1, 4, 5]),
    (where("score", "lt", 7), [2]),
    (where("score", "lte", 7), [2, 5]),
    (where("score", "between", [-3, 10.5]), [1, 2, 5]),
    (where("score", "between", [50, None]), [4]),
    (where("name", "contains", "AN"), [1, 3]),
    (where("name", "startswith", "ç"), [4]),
    (where("score", "is_null"), [3]),
    (where("score", "not_null"), [1, 2, 4, 5]),
    (where("active", "eq", True), [1, 4]),
    (where("active", "eq", "0"), [2, 5]),
    (where("status", "eq", 2), [2, 4]),
    (where("status", "eq", "Submitted"), [2, 4]),
    (where("status", "in", ["Not Started", 1]), [1, 3, 5]),
    (where("status", "not_in", [2]), [1, 3, 5]),
    (where("status", "contains", "progress"), [3, 5]),
])
def test_filter_operators(ids, filters, expected):
    assert ids(filters) == expected


@pytest.mark.parametrize("filters, expected", [
    (where("joined", "between", ["2024-01-01", "2024-01-31"]), [1]),
    (where("joined", "gte", "2024-02-01"), [2, 5]),
    (where("joined", "lt", "2024-01-01"), [4]),
    # A date bound on a datetime compares calendar dates, so the end day is included whole.
    (where("seen", "between", ["2024-01-15", "2024-02-01"]), [1, 2]),
    (where("seen", "lte", "2024-02-01"), [1, 2, 4]),
    (where("seen", "gt", "2024-02-01 23:00:00"), [2, 5]),
    (where("seen", "eq", "2024-03-10"), [5]),
    (where("seen", "lt", "2024-01-01T06:30:00+07:00"), [4]),
])
def test_date_ranges(ids, filters, expected):
    assert ids(filters) == expected


def test_filters_are_anded_with_an_or_group(ids):
    request = {"filters": [
        {"field": "score", "op": "not_null"},
        {"any": [{"field": "name", "op": "eq", "value": "Ana"}, {"field": "status", "op": "eq", "value": 2}]},
    ]}
    assert ids(request) == [1, 2, 4]
    nested = {"filters": [{"any": [{"field": "id", "op": "eq", "value": 5},
                                   {"all": [{"field": "name", "op": "eq", "value": "Ana"},
                                            {"field": "score", "op": "is_null"}]}]}]}
    assert ids(nested) == [3, 5]


def test_coerced_text_never_matches_an_order_filter(ids):
    records = RECORDS + [{"id": 6, "score": "n/a"}]
    request = {**where("score", "gt", -100), "options": {"on_invalid": "coerce"}}
    assert ids(request, records) == [1, 2, 4, 5]
    assert ids({**where("score", "ne", 7), "options": {"on_invalid": "coerce"}}, records) == [1, 2, 3, 4, 6]


def test_sort_multi_key_asc_desc(ids):
    assert ids({"sort": ["name", "-id"]}) == [3, 1, 2, 4, 5]
    assert ids({"sort": [{"field": "status", "direction": "desc"}, {"field": "score", "direction": "asc"}]}) == [
        2, 4, 5, 3, 1]


def test_sort_puts_nulls_last_both_ways(ids):
    assert ids({"sort": ["score"]}) == [2, 5, 1, 4, 3]
    assert ids({"sort": ["-score"]}) == [4, 1, 5, 2, 3]
    assert ids({"sort": ["-joined"]}) == [5, 2, 1, 4, 3]
    assert ids({"sort": ["seen"]}) == [4, 1, 2, 5, 3]


def test_sort_is_stable(ids):
    records = [{"id": i, "name": "same" if i % 2 else "other"} for i in range(1, 11)]
    assert ids({"sort": ["name"]}, records) == [2, 4, 6, 8, 10, 1, 3, 5, 7, 9]
    assert ids({"sort": ["-name"]}, records) == [1, 3, 5, 7, 9, 2, 4, 6, 8, 10]


def test_sort_is_global_across_partitions(ids):
    records = [{"id": i, "score": (i * 37) % 101} for i in range(1, 61)]
    expected = [r["id"] for r in sorted(records, key=lambda r: -r["score"])]
    assert ids({"sort": ["-score"]}, records, parts=4) == expected


def test_dedupe_keeps_the_first_occurrence(ids):
    assert ids({"dedupe": "name"}) == [1, 2, 4, 5]  # the null name is kept
    assert ids({"dedupe": ["name", "status"]}) == [1, 2, 3, 4, 5]
    records = [{"id": i, "name": ["a", "b", "a", "c", "b"][i - 1], "status": 0} for i in range(1, 6)]
    assert ids({"dedupe": ["name", "status"]}, records, parts=3) == [1, 2, 4]


def test_dedupe_then_sort(ids, spec_for):
    records = [{"id": i, "name": n} for i, n in [(1, "b"), (2, "a"), (3, "b"), (4, "a")]]
    assert ids({"dedupe": ["name"], "sort": ["-id"]}, records, parts=2) == [2, 1]
    spec = spec_for({"columns": COLUMNS, "dedupe": ["name"]})
    combined = combine_partitions([prepare_partition(records, spec)], spec)
    assert combined.warnings["duplicates_removed"] == 2


def test_filters_apply_to_fields_that_are_not_written(spec_for):
    spec = spec_for({"columns": COLUMNS, "select": ["name"], "filters": [{"field": "id", "op": "gt", "value": 3}],
                     "sort": ["-id"]})
    combined = combine_partitions([prepare_partition(RECORDS, spec)], spec)
    assert [row[0] for row in combined.rows] == [None, "Çelik"]


def test_select_rename_order(spec_for):
    spec = spec_for({"columns": COLUMNS, "select": ["status", "name", "id"], "rename": {"name": "Participant"},
                     "order": ["id"]})
    assert [(c.field, c.header) for c in spec.columns] == [("id", "ID"), ("status", "Status"),
                                                           ("name", "Participant")]
    spec = spec_for({"columns": COLUMNS, "order": ["status", "name"]})
    assert [c.field for c in spec.columns] == ["status", "name", "id", "score", "joined", "seen", "active"]


def test_filter_values_typed_as_the_column(spec_for):
    spec = spec_for({"columns": COLUMNS, "filters": [{"field": "joined", "op": "eq", "value": "2024-01-15"}]})
    part = prepare_partition(RECORDS, spec)
    assert [row[3] for row in part.rows] == [date(2024, 1, 15)]
