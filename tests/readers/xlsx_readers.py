"""Five independent XLSX readers, each giving a workbook in one normalised shape.

A workbook is a list of (sheet name, rows), in the file's sheet order; a row is a list of
cells; a cell is None (empty) or a (type, value) pair with type one of "string", "number",
"boolean", "date". A date's value is its wall-clock time "YYYY-MM-DDTHH:MM:SS" as Excel shows
it (1900 date system), truncated to the second; an empty text is None; trailing empty cells
and rows are left out.

- openpyxl and python-calamine (in process);
- exceljs and SheetJS (npm package xlsx) through tests/readers/node/read.js;
- LibreOffice: `soffice --headless --convert-to csv` of every sheet of every file in one run.

What each reader does to the values is noted where it is undone or allowed for.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.utils import get_column_letter
from python_calamine import CalamineWorkbook

Cell = tuple[str, Any] | None
Workbook = list[tuple[str, list[list[Cell]]]]

HERE = Path(__file__).resolve().parent
NODE_DIR = HERE / "node"
READERS = ("openpyxl", "calamine", "exceljs", "sheetjs", "libreoffice")
INSTALL_HINT = "run `make readers` (scripts/ensure_readers.sh) as root to install it"

# LibreOffice's CSV filter: comma, double quote, UTF-8, from line 1, no column formats,
# language en-US, *quote every text cell* (so that the CSV still tells text from numbers),
# -, not "as shown" (raw values: numbers to 15 significant digits, dates as dates, see
# parse_libreoffice_cell), no formulas, -, every sheet (one CSV per sheet, "<file>-<sheet>.csv",
# since LibreOffice 7.2).
LIBREOFFICE_FILTER = "csv:Text - txt - csv (StarCalc):44,34,76,1,,1033,true,true,false,false,false,-1"


class ReaderError(Exception):
    """The reader could not read the file (or is not installed)."""


# --- the pieces every reader shares --------------------------------------------------------

def trim(rows: list[list[Cell]]) -> list[list[Cell]]:
    for row in rows:
        while row and row[-1] is None:
            row.pop()
    while rows and not rows[-1]:
        rows.pop()
    return rows


def iso(moment: datetime) -> str:
    return moment.replace(microsecond=0, tzinfo=None).isoformat()


def excel_day(moment: datetime) -> str:
    """A date read as 1899-12-30 + serial (LibreOffice; what exceljs and SheetJS do, undone in
    read.js the same way) in Excel's meaning: serials below 60 count from 1899-12-31, and
    serial 60 is 29 February 1900, a day that never was (Lotus 1-2-3's leap-year bug)."""
    if moment >= datetime(1900, 3, 1):
        return iso(moment)
    if moment.date() == date(1900, 2, 28):
        return "1900-02-29" + iso(moment)[10:]
    return iso(moment + timedelta(days=1))


_XSTRING_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def decode_xstring(text: str) -> str:
    """ECMA-376 ST_Xstring escapes: `_xHHHH_` is the character U+HHHH (so `_x000D_` is a
    carriage return and `_x005F_x000D_` the literal text `_x000D_`). Lower-case x only, as
    Excel, python-calamine, LibreOffice and xlsxwriter have it (SheetJS also takes `_X`)."""
    return _XSTRING_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def ref(row: int, column: int) -> str:
    """The A1 reference of a 0-based (row, column)."""
    return f"{get_column_letter(column + 1)}{row + 1}"


def _string(value: str) -> Cell:
    return ("string", value) if value != "" else None


# --- openpyxl ------------------------------------------------------------------------------

def read_openpyxl(path: Path) -> Workbook:
    """openpyxl 3.1 returns the raw ST_Xstring of an inline string (it decodes no `_xHHHH_`):
    decoded here. A date cell is a datetime, or a time for serials below 1 (day 0 of 1900, i.e.
    1899-12-31); openpyxl maps serial 60 to 1900-02-28."""
    book = openpyxl.load_workbook(path)
    out: Workbook = []
    for sheet in book.worksheets:
        rows = []
        for row in sheet.iter_rows():
            cells: list[Cell] = []
            for cell in row:
                value = cell.value
                if value is None:
                    cells.append(None)
                elif cell.data_type == "b" or isinstance(value, bool):
                    cells.append(("boolean", bool(value)))
                elif isinstance(value, datetime):
                    cells.append(("date", iso(value)))
                elif isinstance(value, time):
                    cells.append(("date", iso(datetime.combine(date(1899, 12, 31), value))))
                elif isinstance(value, date):
                    cells.append(("date", iso(datetime(value.year, value.month, value.day))))
                elif isinstance(value, (int, float)):
                    cells.append(("number", value))
                elif isinstance(value, str):
                    cells.append(_string(decode_xstring(value)))
                else:
                    cells.append(("unknown", repr(value)))
            rows.append(cells)
        out.append((sheet.title, trim(rows)))
    return out


# --- python-calamine -----------------------------------------------------------------------

def read_calamine(path: Path) -> Workbook:
    """python-calamine decodes `_xHHHH_`; empty cells are "", numbers floats, date cells a
    date, a datetime, or a time for serials below 1."""
    book = CalamineWorkbook.from_path(str(path))
    out: Workbook = []
    for name in book.sheet_names:
        rows = []
        for row in book.get_sheet_by_name(name).to_python(skip_empty_area=False):
            cells: list[Cell] = []
            for value in row:
                if isinstance(value, bool):
                    cells.append(("boolean", value))
                elif isinstance(value, datetime):
                    cells.append(("date", iso(value)))
                elif isinstance(value, date):
                    cells.append(("date", iso(datetime(value.year, value.month, value.day))))
                elif isinstance(value, time):
                    cells.append(("date", iso(datetime.combine(date(1899, 12, 31), value))))
                elif isinstance(value, (int, float)):
                    cells.append(("number", value))
                elif isinstance(value, str):
                    cells.append(_string(value))
                else:
                    cells.append(("unknown", repr(value)))
            rows.append(cells)
        out.append((name, trim(rows)))
    return out


# --- exceljs and SheetJS (Node) ------------------------------------------------------------

def node_versions() -> dict[str, str]:
    versions = {}
    for package in ("exceljs", "xlsx"):
        manifest = NODE_DIR / "node_modules" / package / "package.json"
        if manifest.exists():
            versions[package] = json.loads(manifest.read_text(encoding="utf-8"))["version"]
    return versions


def read_node(reader: str, paths: Sequence[Path]) -> dict[Path, Workbook | ReaderError]:
    """All files with one `node read.js <reader> ...` (one Node start-up). TZ=UTC: SheetJS
    0.18.5 builds its dates in local time, and local time must not be able to shift them."""
    node = shutil.which("node")
    if node is None:
        error = ReaderError(f"node is not installed: {INSTALL_HINT}")
        return dict.fromkeys(paths, error)
    package = "exceljs" if reader == "exceljs" else "xlsx"
    if not (NODE_DIR / "node_modules" / package / "package.json").exists():
        error = ReaderError(f"the npm package {package} is not installed in {NODE_DIR}/node_modules: {INSTALL_HINT}")
        return dict.fromkeys(paths, error)
    args = [node, str(NODE_DIR / "read.js"), reader, *map(str, paths)]
    if len(paths) == 1:
        args.append(str(paths[0]))  # the same file twice: the several-files output, always
    done = subprocess.run(args, cwd=NODE_DIR, capture_output=True, text=True, timeout=180,
                          env={**os.environ, "TZ": "UTC"})
    if done.returncode != 0:
        error = ReaderError(f"node read.js {reader} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
        return dict.fromkeys(paths, error)
    results: dict[Path, Workbook | ReaderError] = {}
    for line in done.stdout.splitlines():
        item = json.loads(line)
        path = Path(item["path"])
        if "error" in item:
            results[path] = ReaderError(item["error"])
            continue
        # exceljs 4.4 decodes `_xHHHH_` (upper-case hex only) in shared strings but returns an
        # inline string's raw ST_Xstring (`_x000D_` for a carriage return), as openpyxl does:
        # decoded here for files without shared strings (the engine's). SheetJS decodes both.
        decode = reader == "exceljs" and not _has_shared_strings(path)
        workbook: Workbook = []
        for name in item["order"]:
            rows = [[None if c is None else _node_cell(c, decode) for c in row] for row in item["sheets"][name]]
            workbook.append((name, trim(rows)))
        results[path] = workbook
    for path in paths:
        results.setdefault(path, ReaderError(f"node read.js {reader} printed nothing for {path}"))
    return results


def _has_shared_strings(path: Path) -> bool:
    with zipfile.ZipFile(path) as archive:
        return "xl/sharedStrings.xml" in archive.namelist()


def _node_cell(cell: dict, decode: bool) -> Cell:
    if cell["t"] == "string":
        return _string(decode_xstring(cell["v"]) if decode else cell["v"])
    return (cell["t"], cell["v"])


# --- LibreOffice ---------------------------------------------------------------------------

def soffice_version() -> str | None:
    soffice = shutil.which("soffice")
    if soffice is None:
        return None
    done = subprocess.run([soffice, "--version"], capture_output=True, text=True, timeout=60)
    return done.stdout.strip() or None


def read_libreoffice(paths: Sequence[Path], work: Path) -> dict[Path, Workbook | ReaderError]:
    """Every sheet of every file to CSV in one soffice run (LibreOffice starts in seconds, not
    per file), with a profile of its own (-env:UserInstallation) so that runs in parallel, or
    a desktop LibreOffice, don't meet. The file names must differ in their stems."""
    soffice = shutil.which("soffice")
    if soffice is None:
        error = ReaderError(f"soffice (LibreOffice) is not installed: {INSTALL_HINT}")
        return dict.fromkeys(paths, error)
    stems = [p.stem for p in paths]
    assert len(set(stems)) == len(stems), "LibreOffice names its CSV files after the file stems: make them unique"
    out_dir, profile = work / "csv", work / "profile"
    out_dir.mkdir(parents=True, exist_ok=True)
    args = [soffice, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
            "--convert-to", LIBREOFFICE_FILTER, "--outdir", str(out_dir), *map(str, paths)]
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=240,
                              env={**os.environ, "HOME": str(work)})
    except subprocess.TimeoutExpired as exc:
        error = ReaderError(f"soffice --convert-to took more than {exc.timeout} s")
        return dict.fromkeys(paths, error)
    # stdout: "convert <file> using filter : ..." then "Writing sheet <name> -> <csv>" per sheet.
    sheets: dict[Path, list[tuple[str, Path]]] = {}
    current: Path | None = None
    for line in done.stdout.splitlines():
        if line.startswith("convert "):
            current = Path(line[len("convert "):].split(" using filter", 1)[0])
            sheets[current] = []
        elif line.startswith("Writing sheet ") and current is not None:
            name, csv_path = line[len("Writing sheet "):].rsplit(" -> ", 1)
            sheets[current].append((name, Path(csv_path)))
    results: dict[Path, Workbook | ReaderError] = {}
    for path in paths:
        listed = sheets.get(path)
        if not listed or not all(p.exists() for _, p in listed):
            results[path] = ReaderError(f"soffice wrote no CSV for {path.name} (exit {done.returncode}): "
                                        f"{(done.stdout + done.stderr).strip()[-2000:]}")
            continue
        results[path] = [(name, trim([[parse_libreoffice_cell(text, quoted) for text, quoted in row]
                                      for row in parse_csv(p.read_bytes().decode("utf-8"))]))
                         for name, p in listed]
    return results


def parse_csv(text: str) -> list[list[tuple[str, bool]]]:
    """RFC 4180, keeping whether each field was quoted (LibreOffice quotes text cells only).
    Records end with \\n; a \\r or \\n inside quotes belongs to the field."""
    rows: list[list[tuple[str, bool]]] = []
    row: list[tuple[str, bool]] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] == '"':
            j, parts = i + 1, []
            while True:
                k = text.index('"', j)
                parts.append(text[j:k])
                if k + 1 < n and text[k + 1] == '"':
                    parts.append('"')
                    j = k + 2
                    continue
                i = k + 1
                break
            row.append(("".join(parts), True))
        else:
            k = i
            while k < n and text[k] not in ",\n":
                k += 1
            row.append((text[i:k].rstrip("\r"), False))
            i = k
        if i < n and text[i] == ",":
            i += 1
            if i == n or text[i] == "\n":
                row.append(("", False))
        if i < n and text[i] == "\n":
            rows.append(row)
            row = []
            i += 1
        elif i < n and text[i] == "\r" and text[i + 1:i + 2] == "\n":
            rows.append(row)
            row = []
            i += 2
    if row:
        rows.append(row)
    return rows


_LO_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?: (\d{2}):(\d{2}):(\d{2}))?")
_LO_US = re.compile(r"(\d{2})/(\d{2})/(\d{4})(?: (\d{2}):(\d{2}):(\d{2}))?")


def parse_libreoffice_cell(text: str, quoted: bool) -> Cell:
    """A field of LibreOffice's raw CSV: quoted is text; TRUE/FALSE a boolean; a date cell
    YYYY-MM-DD when its format is ISO-like (MM/DD/YYYY otherwise, en-US), with HH:MM:SS when
    the value has a time; anything else a number. LibreOffice counts every serial from
    1899-12-30 (it ignores Excel's phantom 29 February 1900): excel_day() gives it Excel's meaning."""
    if quoted:
        return _string(text)
    if text == "":
        return None
    if text in ("TRUE", "FALSE"):
        return ("boolean", text == "TRUE")
    if match := _LO_ISO.fullmatch(text):
        y, m, d, hh, mm, ss = match.groups()
    elif match := _LO_US.fullmatch(text):
        m, d, y, hh, mm, ss = match.groups()
    else:
        try:
            return ("number", float(text))
        except ValueError:
            return ("unknown", text)
    moment = datetime(int(y), int(m), int(d), int(hh or 0), int(mm or 0), int(ss or 0))
    return ("date", excel_day(moment))


# --- comparing -----------------------------------------------------------------------------

def same_number(got: Any, want: Any, rel: float) -> bool:
    if got == want:
        return True
    return abs(got - want) <= rel * max(abs(got), abs(want))


def for_libreoffice(cell: Cell) -> Cell:
    """What LibreOffice can give back of a cell: it stores line breaks as \\n, so a \\r\\n in
    a text comes back as \\n (a lone \\r stays)."""
    if cell is not None and cell[0] == "string":
        return ("string", cell[1].replace("\r\n", "\n"))
    return cell


def show(cell: Cell, limit: int = 80) -> str:
    if cell is None:
        return "empty"
    text = repr(cell[1])
    if len(text) > limit:
        text = f"{text[:limit // 2]}…{text[-limit // 2:]} ({len(cell[1])} chars)" if isinstance(cell[1], str) \
            else text[:limit] + "…"
    return f"{cell[0]} {text}"


def differences(reader: str, got: Workbook, want: Workbook, against: str, *, adapt=None,
                rel: float = 0.0) -> list[str]:
    """Every disagreement as "reader: sheet 'S' B7: got ..., <against> ...". `adapt` maps a
    wanted cell to what this reader can give back; `rel` is the relative tolerance for numbers."""
    problems = []
    got_names, want_names = [n for n, _ in got], [n for n, _ in want]
    if got_names != want_names:
        problems.append(f"{reader}: sheets {got_names}, {against} {want_names}")
    for (name, want_rows), (_, got_rows) in zip(want, got, strict=False):
        if len(got_rows) != len(want_rows):
            problems.append(f"{reader}: sheet {name!r}: {len(got_rows)} rows, {against} {len(want_rows)}")
        for r, (got_row, want_row) in enumerate(zip(got_rows, want_rows, strict=False)):
            for c in range(max(len(got_row), len(want_row))):
                g = got_row[c] if c < len(got_row) else None
                w = want_row[c] if c < len(want_row) else None
                if adapt is not None:
                    w = adapt(w)
                if g == w:
                    continue
                if g is not None and w is not None and g[0] == w[0] == "number" and same_number(g[1], w[1], rel):
                    continue
                problems.append(f"{reader}: sheet {name!r} {ref(r, c)}: got {show(g)}, {against} {show(w)}")
    return problems


def report(problems: Iterable[str], limit: int = 40) -> str:
    problems = list(problems)
    shown = problems[:limit]
    more = f"\n… and {len(problems) - limit} more" if len(problems) > limit else ""
    return f"{len(problems)} disagreement(s):\n" + "\n".join(shown) + more
