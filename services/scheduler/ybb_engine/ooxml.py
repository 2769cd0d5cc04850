"""The parts of an XLSX package around the worksheets' rows: content types, relationships,
workbook, styles, document properties, and each worksheet's head and tail; the sheet layout
and column widths.

They mirror what xlsxwriter produces (the reference writer, tests/reference/writer_xlsx.py,
takes its layout and constants from here): the same header style (bold, filled, bordered),
the same column widths, freeze pane and autofilter, and one cell format per number format in use.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape, quoteattr

from .safety import sheet_name

if TYPE_CHECKING:
    from .formatting import ColumnFormat

XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
# Calibri 11 (Excel's default): pixels of the widest digit and the cell padding, as xlsxwriter.
MAX_DIGIT_WIDTH, CELL_PADDING = 7, 5
HEADER_COLOR = "D9E1F2"  # RGB fill of the header row
AUTHOR = "YBB Data Management Service"
# Excel holds 1,048,576 rows; one is the header. Tests monkeypatch this to a small number.
MAX_ROWS_PER_SHEET = 1_048_575
# Column widths are measured on the header and the export's first rows.
WIDTH_SAMPLE_ROWS = 1000
MIN_WIDTH, MAX_WIDTH = 8, 60
# Past this many cells the zip may exceed 4 GB and needs ZIP64.
ZIP64_CELLS = 50_000_000


def column_letter(index: int) -> str:
    """0 -> "A", 25 -> "Z", 26 -> "AA"."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def sheet_layout(groups: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    """(sheet name, rows) of every sheet: each group (split_by value, or the one base name) is cut
    at MAX_ROWS_PER_SHEET rows into "Name", "Name (2)", ...; names made valid and unique."""
    layout: list[tuple[str, int]] = []
    taken: set[str] = set()
    for base, count in groups:
        for chunk_number, start in enumerate(range(0, max(count, 1), MAX_ROWS_PER_SHEET), start=1):
            label = base if chunk_number == 1 else f"{base[:31 - len(f' ({chunk_number})')]} ({chunk_number})"
            layout.append((sheet_name(label, taken), min(MAX_ROWS_PER_SHEET, count - start)))
    return layout


def auto_width(header: str, rows: Sequence[tuple], index: int, fmt: ColumnFormat, null_display: str | None) -> float:
    """Width in characters of column `index`: its longest display text among the header and the
    first WIDTH_SAMPLE_ROWS rows, plus padding, within [MIN_WIDTH, MAX_WIDTH]."""
    longest = len(header)
    for row in rows[:WIDTH_SAMPLE_ROWS]:
        value = row[index]
        text = fmt.text(value) if value is not None else (null_display or "")
        longest = max(longest, len(text))
    return float(min(max(longest + 2, MIN_WIDTH), MAX_WIDTH))


def stored_width(width: float) -> float:
    """The <col width> Excel stores for a width in characters (xlsxwriter's conversion)."""
    if width < 1:
        pixels = int(width * (MAX_DIGIT_WIDTH + CELL_PADDING) + 0.5)
    else:
        pixels = int(width * MAX_DIGIT_WIDTH + 0.5) + CELL_PADDING
    return (pixels * 256 // MAX_DIGIT_WIDTH) / 256.0


@dataclass
class StyleTable:
    """Cell formats: 0 default, 1 the header, then one per number format (ids from 164)."""
    formats: list[str]

    def index(self, num_format: str | None) -> int:
        if not num_format:
            return 0
        return 2 + self.formats.index(num_format)

    def xml(self) -> str:
        num_fmts = "".join(f'<numFmt numFmtId="{164 + i}" formatCode={quoteattr(code)}/>'
                           for i, code in enumerate(self.formats))
        xfs = "".join(f'<xf numFmtId="{164 + i}" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
                      for i in range(len(self.formats)))
        return (
            XML_DECL + f'<styleSheet xmlns="{NS_MAIN}">'
            + (f'<numFmts count="{len(self.formats)}">{num_fmts}</numFmts>' if self.formats else "")
            + '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
            '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
            '<fills count="3"><fill><patternFill patternType="none"/></fill>'
            '<fill><patternFill patternType="gray125"/></fill>'
            f'<fill><patternFill patternType="solid"><fgColor rgb="FF{HEADER_COLOR}"/><bgColor indexed="64"/>'
            '</patternFill></fill></fills>'
            '<borders count="2"><border><left/><right/><top/><bottom/><diagonal/></border>'
            '<border><left style="thin"><color auto="1"/></left><right style="thin"><color auto="1"/></right>'
            '<top style="thin"><color auto="1"/></top><bottom style="thin"><color auto="1"/></bottom>'
            '<diagonal/></border></borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
            f'<cellXfs count="{2 + len(self.formats)}"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
            '<xf numFmtId="0" fontId="1" fillId="2" borderId="1" xfId="0" applyFont="1" applyFill="1" applyBorder="1" '
            'applyAlignment="1"><alignment vertical="top"/></xf>' + xfs + '</cellXfs>'
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
            '<dxfs count="0"/><tableStyles count="0" defaultTableStyle="TableStyleMedium9" '
            'defaultPivotStyle="PivotStyleLight16"/></styleSheet>'
        )


def content_types(sheets: int) -> str:
    overrides = "".join(
        f'<Override PartName="/xl/worksheets/sheet{n}.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for n in range(1, sheets + 1))
    return (
        XML_DECL + '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/docProps/app.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
        '<Override PartName="/docProps/core.xml" '
        'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
        '<Override PartName="/xl/styles.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        + overrides + '</Types>'
    )


def root_rels() -> str:
    return (
        XML_DECL + f'<Relationships xmlns="{PKG_REL}">'
        f'<Relationship Id="rId3" Type="{NS_REL}/extended-properties" Target="docProps/app.xml"/>'
        '<Relationship Id="rId2" '
        'Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" '
        'Target="docProps/core.xml"/>'
        f'<Relationship Id="rId1" Type="{NS_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    )


def workbook_rels(sheets: int) -> str:
    rels = "".join(f'<Relationship Id="rId{n}" Type="{NS_REL}/worksheet" Target="worksheets/sheet{n}.xml"/>'
                   for n in range(1, sheets + 1))
    return (XML_DECL + f'<Relationships xmlns="{PKG_REL}">' + rels
            + f'<Relationship Id="rId{sheets + 1}" Type="{NS_REL}/styles" Target="styles.xml"/></Relationships>')


def workbook(names: list[str], filters: list[str]) -> str:
    """`filters`: the autofilter range of each sheet ("$A$1:$K$4"), as the hidden _FilterDatabase name."""
    sheets = "".join(f'<sheet name={quoteattr(name)} sheetId="{n}" r:id="rId{n}"/>'
                     for n, name in enumerate(names, start=1))
    defined = "".join(
        f'<definedName name="_xlnm._FilterDatabase" localSheetId="{n}" hidden="1">'
        f"{escape(_quote_sheet(name))}!{ref}</definedName>"
        for n, (name, ref) in enumerate(zip(names, filters, strict=False)))
    return (
        XML_DECL + f'<workbook xmlns="{NS_MAIN}" xmlns:r="{NS_REL}">'
        '<workbookPr defaultThemeVersion="124226"/><bookViews><workbookView xWindow="240" yWindow="15" '
        'windowWidth="16095" windowHeight="9660"/></bookViews>'
        f"<sheets>{sheets}</sheets>"
        + (f"<definedNames>{defined}</definedNames>" if defined else "")
        + '<calcPr calcId="124519" fullCalcOnLoad="1"/></workbook>'
    )


def _quote_sheet(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


def core_properties(title: str, author: str, created: datetime | None = None) -> str:
    stamp = (created or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        XML_DECL + '<cp:coreProperties '
        'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:dcmitype="http://purl.org/dc/dcmitype/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{escape(title)}</dc:title><dc:creator>{escape(author)}</dc:creator>"
        f"<cp:lastModifiedBy>{escape(author)}</cp:lastModifiedBy>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{stamp}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}</dcterms:modified></cp:coreProperties>'
    )


def app_properties(names: list[str]) -> str:
    titles = "".join(f"<vt:lpstr>{escape(n)}</vt:lpstr>" for n in names)
    return (
        XML_DECL + '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties" '
        'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
        "<Application>Microsoft Excel</Application><DocSecurity>0</DocSecurity><ScaleCrop>false</ScaleCrop>"
        '<HeadingPairs><vt:vector size="2" baseType="variant"><vt:variant><vt:lpstr>Worksheets</vt:lpstr></vt:variant>'
        f'<vt:variant><vt:i4>{len(names)}</vt:i4></vt:variant></vt:vector></HeadingPairs>'
        f'<TitlesOfParts><vt:vector size="{len(names)}" baseType="lpstr">{titles}</vt:vector></TitlesOfParts>'
        "<LinksUpToDate>false</LinksUpToDate><SharedDoc>false</SharedDoc><HyperlinksChanged>false</HyperlinksChanged>"
        "<AppVersion>12.0000</AppVersion></Properties>"
    )


_ESCAPE_XHHHH = re.compile(r"(_x[0-9a-fA-F]{4}_)")


def escape_text(text: str) -> str:
    """Text of an inline string as xlsxwriter writes it: _xHHHH_ escapes, CR as _x000D_, &<> entities
    (fastxlsx.XlsxRenderer does the same with pyarrow.compute)."""
    if "_x" in text:
        text = _ESCAPE_XHHHH.sub(r"_x005F\1", text)
    if "\r" in text:
        text = text.replace("\r", "_x000D_")
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def inline_string(text: str) -> str:
    """One inline string cell, escaped as xlsxwriter does."""
    preserve = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
    return f'<c t="inlineStr"><is><t{preserve}>{escape_text(text)}</t></is></c>'


def sheet_head(headers: list[str], widths: list[float], data_rows: int, selected: bool) -> str:
    """The worksheet up to and including the header row; the data rows follow as <row> elements."""
    last = column_letter(max(len(headers), 1) - 1)
    cols = "".join(f'<col min="{i}" max="{i}" width="{stored_width(w):.16g}" customWidth="1"/>'
                   for i, w in enumerate(widths, start=1))
    header_cells = "".join(inline_string(h).replace("<c ", f'<c r="{column_letter(i)}1" s="1" ', 1)
                           for i, h in enumerate(headers))
    selected_attr = 'tabSelected="1" ' if selected else ""
    return (
        XML_DECL + f'<worksheet xmlns="{NS_MAIN}" xmlns:r="{NS_REL}">'
        '<sheetPr filterMode="false"><pageSetUpPr fitToPage="false"/></sheetPr>'
        f'<dimension ref="A1:{last}{data_rows + 1}"/>'
        f"<sheetViews><sheetView {selected_attr}workbookViewId=\"0\">"
        '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
        '<selection pane="bottomLeft"/></sheetView></sheetViews>'
        '<sheetFormatPr defaultRowHeight="15"/>'
        + (f"<cols>{cols}</cols>" if cols else "")
        + f'<sheetData><row r="1">{header_cells}</row>'
    )


def sheet_tail(columns: int, data_rows: int) -> str:
    last = column_letter(max(columns, 1) - 1)
    return (
        f'</sheetData><autoFilter ref="A1:{last}{max(data_rows, 1) + 1}"/>'
        '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/></worksheet>'
    )


def filter_ref(columns: int, data_rows: int) -> str:
    return f"$A$1:${column_letter(max(columns, 1) - 1)}${max(data_rows, 1) + 1}"
