"""Date-time serials that readers which truncate read as the intended second (and millisecond).

SheetJS with cellDates turns a serial v into `Date.setTime(v * 24 * 60 * 60 * 1000 + dnthresh)`
(xlsx 0.18.5, bits/20_jsutils.js numdate; dnthresh is 1899-12-30 00:00 in the reader's zone,
here UTC), and setTime truncates toward zero; its number formats (SSF.parse_date_code) take
floor(86400 * (v - day)) and round up a remainder above 0.9999 s. Both are emulated here with
the same double operations in the same order (Python floats are IEEE doubles, as JS numbers),
on the text the engine writes, parsed back as readers parse it."""
from __future__ import annotations

import json
import math
import random
import re
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from ybb_engine import fastexport, fastxlsx
from ybb_engine.fastxlsx import excel_serial, serial_micros, truncation_safe
from ybb_engine.spec import ExportSpec, build_spec
from ybb_engine.templates import load_templates

UNIX = datetime(1970, 1, 1)
DNTHRESH = -2_209_161_600_000  # new Date(1899, 11, 30) with TZ=UTC, in ms


def sheetjs_date(serial: float) -> datetime:
    """SheetJS numdate (cellDates: true): the Date's UTC fields, to the millisecond."""
    return UNIX + timedelta(milliseconds=math.trunc(serial * 24 * 60 * 60 * 1000 + DNTHRESH))


def ssf_time(serial: float) -> int:
    """SSF.parse_date_code: the second of the day a number format shows."""
    day = int(serial)
    time = math.floor(86400 * (serial - day))
    rest = 86400 * (serial - day) - time
    if abs(rest) < 1e-6:
        rest = 0
    return (time + 1) % 86400 if rest > 0.9999 else time




def moments(seed: int) -> list[datetime]:
    rng = random.Random(seed)
    found = [datetime(2024, 6, 11) + timedelta(minutes=m) for m in range(1440)]           # every minute of a day
    found += [datetime(1969, 12, 31, 23) + timedelta(seconds=s) for s in range(7200)]   # around the Unix epoch
    found += [datetime(1900, 3, 1) + timedelta(seconds=rng.randrange(86400 * 365 * 200)) for _ in range(20000)]
    found += [datetime(1900, 3, 1) + timedelta(seconds=rng.randrange(86400 * 365 * 8099)) for _ in range(5000)]
    found += [datetime(1990, 1, 1) + timedelta(milliseconds=rng.randrange(86400_000 * 365 * 60)) for _ in range(5000)]
    found += [datetime(1900, 1, 2) + timedelta(seconds=rng.randrange(86400 * 58)) for _ in range(2000)]  # before 03-01
    found += [datetime(9999, 12, 31, 23, 59, 59), datetime(9999, 12, 31, 23, 59, 59, 999000),
              datetime(1900, 3, 1), datetime(1900, 2, 28, 23, 59, 59), datetime(1970, 1, 1)]
    return found


def check(moment: datetime, text: str) -> None:
    """`text` (a <v>) reads as `moment`, to the millisecond. Before 1900-03-01 only the time of day:
    Excel's serial 60 is 1900-02-29, a day SheetJS does not count (nor the reference's 1900-01-01)."""
    serial = float(text)  # JS parseFloat and Python float: the nearest double
    got = sheetjs_date(serial)
    if moment >= datetime(1900, 3, 1):
        assert got == moment, (moment, text)
    else:
        assert got.time() == moment.time(), (moment, text)
    assert ssf_time(serial) == moment.hour * 3600 + moment.minute * 60 + moment.second, (moment, text)


def test_nearest_doubles_read_a_second_early():
    """The bug: the exact nearest double of 16:32:00 on 2024-06-11 reads as 16:31:59.999, and so do
    many whole minutes; xlsxwriter's 16 significant digits do no better."""
    moment = datetime(2024, 6, 11, 16, 32)
    assert sheetjs_date(excel_serial(moment)) == moment - timedelta(milliseconds=1)
    day = [datetime(2024, 6, 11) + timedelta(minutes=m) for m in range(1440)]
    early = sum(sheetjs_date(excel_serial(m)) < m for m in day)
    sixteen = sum(sheetjs_date(float(f"{excel_serial(m):.16G}")) < m for m in day)
    assert early > 200 and sixteen > 200


def test_truncation_safe_serials_read_exactly():
    found = moments(1)
    serial = np.array([excel_serial(m) for m in found])
    micros = np.array([serial_micros(m) for m in found], np.int64)
    safe = truncation_safe(serial, micros)
    for moment, value in zip(found, safe.tolist(), strict=True):
        check(moment, repr(value))
    moved = np.abs(safe - serial) / np.spacing(serial)
    assert moved.max() <= 3 and (moved > 0).mean() > 0.1  # an ulp or two, where needed
    assert np.allclose(micros / 86_400_000_000, serial, rtol=0, atol=1e-9)  # serial_micros is excel_serial
    assert [int(m) for m in micros[:2]] == [(45454 * 86400 + s) * 10**6 for s in (0, 60)]


def test_sub_millisecond_values_keep_their_nearest_double_where_no_reader_is_at_risk():
    rng = random.Random(2)
    span = 86400 * 10**6 * 365 * 100
    found = [datetime(1950, 1, 1) + timedelta(microseconds=rng.randrange(span)) for _ in range(5000)]
    found = [m for m in found if 10 <= m.microsecond % 1000 <= 990]
    serial = np.array([excel_serial(m) for m in found])
    micros = np.array([serial_micros(m) for m in found], np.int64)
    assert np.array_equal(truncation_safe(serial, micros), serial)


def sheet_values(path: Path) -> dict[str, str]:
    """Cell reference -> the <v> text of every number cell of the first sheet."""
    xml = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").decode()
    return dict(re.findall(r'<c r="([A-Z]+\d+)" s="\d+"><v>([^<]*)</v>', xml))


@pytest.mark.parametrize("options", [{}, {"timezone": "Asia/Jakarta", "assume_timezone": "UTC"}])
def test_exported_date_times_read_exactly(tmp_path, options):
    """Both renderings: the vectorised one (column A, from 1900-03-01 on) and the per-cell one
    (column B holds date-times from 1899-12-31 to 1900-02-28, so the whole column goes cell by cell)."""
    found = [m for m in moments(3) if m.year < 9999]
    if options:  # Arrow's zone rules stop at 2037: keep column A vectorised
        found = [m for m in found if m.year <= 2037]
    old = [datetime(1899, 12, 31) + timedelta(seconds=(i * 7919) % (86400 * 60)) for i in range(len(found))]
    records = [{"at": m.isoformat(" "), "old": o.isoformat(" ")} for m, o in zip(found, old, strict=True)]
    request = {"columns": [{"field": "at", "type": "datetime"}, {"field": "old", "type": "datetime"}],
               "options": options}
    spec = ExportSpec.from_dict(json.loads(json.dumps(build_spec(request, load_templates(), records[:100]).to_dict())))
    path = tmp_path / "dates.xlsx"
    fastexport.run_local([records[i:i + 5000] for i in range(0, len(records), 5000)], spec, path, tmp_path / "work")
    values = sheet_values(path)
    def wall(moment: datetime) -> datetime:  # the wall-clock time in the export's zone
        return moment.replace(tzinfo=UTC).astimezone(ZoneInfo(options["timezone"])).replace(tzinfo=None) \
            if options else moment

    for row, (moment, before) in enumerate(zip(found, old, strict=True), start=2):
        check(wall(moment), values[f"A{row}"])
        check(wall(before), values[f"B{row}"])


def test_per_cell_text_is_the_vectorised_text():
    found = moments(4)[:3000]
    serial = truncation_safe(np.array([excel_serial(m) for m in found]),
                             np.array([serial_micros(m) for m in found], np.int64))
    vectorised = pc.cast(pa.array(serial), pa.string()).to_pylist()
    per_cell = [fastxlsx.datetime_xml(m) for m in found]
    assert [float(t) for t in per_cell] == [float(t) for t in vectorised] == serial.tolist()
