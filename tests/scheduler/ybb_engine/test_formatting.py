from datetime import date, datetime

import pytest

from ybb_engine.formatting import ColumnFormat, date_renderer, number_text
from ybb_engine.templates import Column

MOMENT = datetime(2024, 3, 5, 14, 7, 9, 123456)


@pytest.mark.parametrize("fmt, expected", [
    ("yyyy-mm-dd", "2024-03-05"),
    ("dd/mm/yyyy", "05/03/2024"),
    ("d/m/yy", "5/3/24"),
    ("mmm d, yyyy", "Mar 5, 2024"),
    ("dddd, d mmmm yyyy", "Tuesday, 5 March 2024"),
    ("ddd", "Tue"),
    ("yyyy-mm-dd hh:mm:ss", "2024-03-05 14:07:09"),
    ("hh:mm", "14:07"),
    ("h:mm AM/PM", "2:07 PM"),
    ("mm:ss", "07:09"),
    ("m", "3"),
    ("mmmmm", "M"),
    ("hh:mm:ss.000", "14:07:09.123"),
    ('yyyy"年"m"月"d"日"', "2024年3月5日"),
    ("[$-409]dd\\.mm", "05.03"),
])
def test_excel_date_formats_render_like_excel(fmt, expected):
    assert date_renderer(fmt)(MOMENT) == expected


def test_dates_render_at_midnight():
    assert date_renderer("dd-mm-yyyy hh:mm")(date(2024, 1, 2)) == "02-01-2024 00:00"
    assert date_renderer("h AM/PM")(datetime(2024, 1, 1, 0, 30)) == "12 AM"


@pytest.mark.parametrize("value, expected", [
    (5, "5"), (150000.0, "150000"), (-2.5, "-2.5"), (0.1, "0.1"), (1e20, "1e+20"), (10**20, "100000000000000000000"),
])
def test_number_text(value, expected):
    assert number_text(value) == expected


def test_column_format_precedence():
    column = Column(field="d", header="D", type="date", format="dd.mm.yyyy")
    assert ColumnFormat(column, None, None).text(date(2024, 1, 2)) == "02.01.2024"
    assert ColumnFormat(column, "yyyy/mm/dd", None).text(date(2024, 1, 2)) == "2024/01/02"
    plain = Column(field="d", header="D", type="date")
    assert ColumnFormat(plain, None, None).text(date(2024, 1, 2)) == "2024-01-02"


def test_value_map_labels():
    column = Column(field="s", header="S", type="enum", value_map={"1": "Midtrans", "2": "Manual Transfer"})
    fmt = ColumnFormat(column, None, None)
    assert (fmt.text(1), fmt.text(2), fmt.label(3), fmt.text(3)) == ("Midtrans", "Manual Transfer", None, "3")
    flag = ColumnFormat(Column(field="b", header="B", type="boolean", value_map={"true": "Yes", "false": "No"}),
                        None, None)
    assert (flag.text(True), flag.text(False)) == ("Yes", "No")
