"""Excel serial dates of the fast path against xlsxwriter's conversion (the reference writer's),
and the boundary it replaced: no production module imports xlsxwriter or the test reference."""
from __future__ import annotations

import ast
import random
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from xlsxwriter.utility import _datetime_to_excel_datetime

from ybb_engine.fastxlsx import excel_serial

SERVICES = Path(__file__).resolve().parents[3] / "services"
# Around the 1900 leap-year bug (serial 60 is 29 February 1900), the epoch, and the ends of the calendar.
EDGES = [date(1, 1, 1), date(1899, 12, 30), date(1899, 12, 31), date(1900, 1, 1), date(1900, 1, 2),
         date(1900, 2, 27), date(1900, 2, 28), date(1900, 3, 1), date(1900, 3, 2), date(1904, 1, 1),
         date(1970, 1, 1), date(2000, 2, 29), date(2024, 12, 31), date(9999, 12, 31)]


def reference(value: date) -> float:
    return _datetime_to_excel_datetime(value, False, True)


def test_dates_match_xlsxwriter():
    rng = random.Random(5)
    days = EDGES + [date(1899, 1, 1) + timedelta(days=n) for n in range(800)]
    days += [date.fromordinal(rng.randint(1, date(9999, 12, 31).toordinal())) for _ in range(5000)]
    for day in days:
        assert excel_serial(day) == reference(day), day


def test_datetimes_match_xlsxwriter():
    rng = random.Random(7)
    moments = [datetime.combine(day, datetime.min.time()) + delta for day in EDGES
               for delta in (timedelta(0), timedelta(microseconds=1), timedelta(hours=6), timedelta(hours=12),
                             timedelta(hours=23, minutes=59, seconds=59, microseconds=999_999))]
    start = datetime(1899, 6, 1)
    moments += [start + timedelta(seconds=rng.randint(0, 86400 * 900), microseconds=rng.randint(0, 999_999))
                for _ in range(5000)]
    moments += [datetime(1, 1, 1) + timedelta(microseconds=rng.randint(0, 315_537_897_599_999_999))
                for _ in range(20000)]
    for moment in moments:
        assert excel_serial(moment) == reference(moment), moment


@pytest.mark.parametrize("zone", [timezone.utc, ZoneInfo("Asia/Jakarta"), ZoneInfo("America/New_York")])
def test_aware_datetimes_give_their_wall_clock_time(zone):
    moment = datetime(2024, 3, 10, 2, 30, 15, 250_000, tzinfo=zone)
    assert excel_serial(moment) == reference(moment) == reference(moment.replace(tzinfo=None))


def test_no_production_module_imports_xlsxwriter_or_the_reference():
    found = []
    for path in SERVICES.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            found += [f"{path.relative_to(SERVICES)}: {n}" for n in names
                      if n.split(".")[0] in ("xlsxwriter", "reference", "tests")]
    assert found == []
