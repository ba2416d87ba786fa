from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.finance.csv_io import (
    EXPORT_HEADER,
    ColumnMapping,
    ExistingEntry,
    ExportRow,
    ImportErrorCode,
    ImportOptions,
    LineError,
    PlannedRow,
    SignConvention,
    export_csv,
    parse_import,
)
from core.finance.money import MAX_MINOR, Money

EXPORT_MAPPING = ColumnMapping(
    date="date", amount="amount", note="note", category="category", account="account", currency="currency"
)


def row(minor: int, currency: str = "USD", note: str = "coffee", **changes: object) -> ExportRow:
    values: dict[str, object] = {
        "local_date": date(2026, 5, 12),
        "account": "Card",
        "category": "Food",
        "kind": "expense" if minor < 0 else "income",
        "amount": Money(minor, currency),
        "base_amount": Money(minor, currency),
        "note": note,
        "author": "Ann",
    }
    values.update(changes)
    return ExportRow(**values)  # type: ignore[arg-type]


def test_export_writes_plain_amounts_with_the_currency_exponent() -> None:
    text = export_csv(
        [
            row(-123450),
            row(5000, "JPY", base_amount=Money(3300, "USD")),
            row(-1, "KWD", category=None, base_amount=None),
        ]
    )
    assert text.endswith("\r\n")
    lines = list(csv.reader(io.StringIO(text)))
    assert tuple(lines[0]) == EXPORT_HEADER
    assert lines[1] == ["2026-05-12", "Card", "Food", "expense", "-1234.50", "USD", "-1234.50", "USD", "coffee", "Ann"]
    assert lines[2][4:8] == ["5000", "JPY", "33.00", "USD"]
    assert lines[3][2] == ""
    assert lines[3][4:8] == ["-0.001", "KWD", "", ""]


def test_export_quotes_what_needs_quoting() -> None:
    text = export_csv([row(-100, note='lunch, "the good one"\nwith Bob')])
    assert list(csv.reader(io.StringIO(text)))[1][8] == 'lunch, "the good one"\nwith Bob'


@pytest.mark.parametrize("note", ['=HYPERLINK("http://x")', "+1+1", "-2", "@SUM(A1)", "'quoted"])
def test_export_keeps_spreadsheets_from_running_text_as_formulas(note: str) -> None:
    lines = list(csv.reader(io.StringIO(export_csv([row(-100, note=note, author=note)]))))
    assert lines[1][8] == "'" + note
    assert lines[1][9] == "'" + note
    assert lines[1][4] == "-1.00"  # amounts stay numbers


def _export_options(currency: str = "USD") -> ImportOptions:
    return ImportOptions(mapping=EXPORT_MAPPING, date_format="%Y-%m-%d", currency=currency)


notes = st.text(alphabet=st.characters(exclude_categories=["Cs", "Cc"]), max_size=30).map(str.strip)


@given(
    st.lists(
        st.tuples(
            st.integers(min_value=-MAX_MINOR, max_value=MAX_MINOR).filter(bool),
            st.sampled_from(["JPY", "USD", "KWD"]),
            notes,
        ),
        max_size=8,
    )
)
def test_export_then_import_gives_the_same_rows(items: list[tuple[int, str, str]]) -> None:
    exported = [row(minor, currency, note) for minor, currency, note in items]
    result = parse_import(export_csv(exported), _export_options())
    assert result.errors == []
    assert [(r.amount, r.note, r.kind, r.local_date, r.account, r.category) for r in result.rows] == [
        (e.amount, e.note, e.kind, e.local_date, e.account, e.category) for e in exported
    ]


@pytest.mark.parametrize("note", ["=1+1", "'=1+1", "''x", "'plain", "-"])
def test_formula_guard_round_trips(note: str) -> None:
    result = parse_import(export_csv([row(-100, note=note)]), _export_options())
    assert [r.note for r in result.rows] == [note]


def test_reimporting_an_export_marks_every_row_duplicate() -> None:
    exported = [row(-100), row(-100), row(2500, note="refund")]
    existing = [ExistingEntry(e.local_date, e.amount, e.note) for e in exported]
    result = parse_import(export_csv(exported), _export_options(), existing)
    assert [r.duplicate for r in result.rows] == [True, True, True]


BANK = """\ufeffDatum;Betrag;Verwendungszweck;Typ
12.05.2026;1.234,50;Rent  May;Lastschrift
13.05.2026;-4,20;Coffee;Lastschrift
14.05.2026;2 500,00;Salary;Gutschrift
"""


def test_import_with_a_type_column_semicolons_and_comma_decimals() -> None:
    options = ImportOptions(
        mapping=ColumnMapping(date="datum", amount="BETRAG", note="Verwendungszweck", kind="typ"),
        date_format="%d.%m.%Y",
        currency="EUR",
        sign=SignConvention.TYPE_COLUMN,
        decimal_symbol=",",
        expense_words=frozenset({"Lastschrift"}),
        income_words=frozenset({"gutschrift"}),
    )
    existing = [ExistingEntry(date(2026, 5, 12), Money(-123450, "EUR"), "rent may")]
    result = parse_import(BANK, options, existing)
    assert result.errors == []
    assert result.rows == [
        PlannedRow(2, date(2026, 5, 12), "expense", Money(-123450, "EUR"), "Rent  May", None, None, duplicate=True),
        PlannedRow(3, date(2026, 5, 13), "expense", Money(-420, "EUR"), "Coffee", None, None),
        PlannedRow(4, date(2026, 5, 14), "income", Money(250000, "EUR"), "Salary", None, None),
    ]


def test_one_existing_entry_absorbs_one_equal_row() -> None:
    text = "d,a,n\n2026-05-12,-3.50,coffee\n2026-05-12,-3.50,Coffee\n2026-05-12,-3.50,coffee\n"
    options = ImportOptions(
        mapping=ColumnMapping(date="d", amount="a", note="n"), date_format="%Y-%m-%d", currency="USD"
    )
    existing = [ExistingEntry(date(2026, 5, 12), Money(-350, "USD"), "coffee")]
    assert [r.duplicate for r in parse_import(text, options, existing).rows] == [True, False, False]
    # Another day, amount or currency is no duplicate.
    others = [
        ExistingEntry(date(2026, 5, 13), Money(-350, "USD"), "coffee"),
        ExistingEntry(date(2026, 5, 12), Money(350, "USD"), "coffee"),
        ExistingEntry(date(2026, 5, 12), Money(-350, "EUR"), "coffee"),
    ]
    assert not any(r.duplicate for r in parse_import(text, options, others).rows)


def test_bad_lines_become_errors_and_good_lines_still_count() -> None:
    text = "\n".join(
        [
            "date,amount,note,currency",
            "2026-05-12,-3.50,coffee,USD",  # 2
            "12/05/2026,-3.50,bad date,USD",  # 3
            "2026-05-12,abc,bad amount,USD",  # 4
            "2026-05-12,0,zero,USD",  # 5
            "2026-05-12,-3.505,too precise,USD",  # 6
            "2026-05-12,-3,bad currency,XYZ",  # 7
            "2026-05-12,-3",  # 8: short
            "",  # blank lines are skipped
            "2026-05-12,100000000000000000000,too big,USD",  # 10
            '2026-05-12,-1,"multi',  # 11: a quoted field over two lines
            'line note",JPY',
            "2026-05-12,+7,income,JPY",  # 13
        ]
    )
    options = ImportOptions(
        mapping=ColumnMapping(date="date", amount="amount", note="note", currency="currency"),
        date_format="%Y-%m-%d",
        currency="USD",
    )
    result = parse_import(text, options)
    assert [(r.line, r.amount, r.kind) for r in result.rows] == [
        (2, Money(-350, "USD"), "expense"),
        (12, Money(-1, "JPY"), "expense"),
        (13, Money(7, "JPY"), "income"),
    ]
    assert result.rows[1].note == "multi\nline note"
    assert result.errors == [
        LineError(3, ImportErrorCode.BAD_DATE, "date"),
        LineError(4, ImportErrorCode.BAD_AMOUNT, "amount"),
        LineError(5, ImportErrorCode.ZERO_AMOUNT, "amount"),
        LineError(6, ImportErrorCode.BAD_AMOUNT, "amount"),
        LineError(7, ImportErrorCode.BAD_CURRENCY, "currency"),
        LineError(8, ImportErrorCode.SHORT_ROW),
        LineError(10, ImportErrorCode.BAD_AMOUNT, "amount"),
    ]


@pytest.mark.parametrize(
    ("amount", "decimal_symbol", "minor"),
    [
        ("-1,234.50", ".", -123450),
        ("-1234.5", ".", -123450),
        ("1 234,50", ",", 123450),
        ("1.234,50", ",", 123450),
        ("1'234.50", ".", 123450),
        ("\u22124,20", ",", -420),
        ("+7", ".", 700),
        ("4,20", ".", None),  # a comma decimal read as "." would be 420: refused instead
        ("1,23", ".", None),
        ("1.2.3", ".", None),
        ("1.234,5,6", ",", None),
        ("", ".", None),
        ("--1", ".", None),
    ],
)
def test_amount_reading(amount: str, decimal_symbol: str, minor: int | None) -> None:
    options = ImportOptions(
        mapping=ColumnMapping(date=0, amount=1),
        date_format="%Y-%m-%d",
        currency="USD",
        has_header=False,
        decimal_symbol=decimal_symbol,
        delimiter=";",
    )
    result = parse_import(f"2026-05-12;{amount}\n", options)
    if minor is None:
        assert result.errors == [LineError(1, ImportErrorCode.BAD_AMOUNT, "amount")]
    else:
        assert [r.amount for r in result.rows] == [Money(minor, "USD")]


def test_a_type_column_must_be_mapped_and_notes_fit_the_ledger() -> None:
    no_kind = ImportOptions(
        mapping=ColumnMapping(date="d", amount="a"),
        date_format="%Y-%m-%d",
        currency="USD",
        sign=SignConvention.TYPE_COLUMN,
    )
    assert parse_import("d,a\n2026-05-12,5\n", no_kind).errors == [LineError(0, ImportErrorCode.MISSING_COLUMN, "kind")]
    options = ImportOptions(
        mapping=ColumnMapping(date="d", amount="a", note="n"), date_format="%Y-%m-%d", currency="USD"
    )
    result = parse_import(f"d,a,n\n2026-05-12,5,{'x' * 500}\n2026-05-12,5,{'x' * 501}\n", options)
    assert [r.line for r in result.rows] == [2]
    assert result.errors == [LineError(3, ImportErrorCode.TOO_LONG, "note")]


def test_unknown_type_word_is_a_line_error() -> None:
    text = "d,a,t\n2026-05-12,5,expense\n2026-05-12,5,maybe\n"
    options = ImportOptions(
        mapping=ColumnMapping(date="d", amount="a", kind="t"),
        date_format="%Y-%m-%d",
        currency="USD",
        sign=SignConvention.TYPE_COLUMN,
    )
    result = parse_import(text, options)
    assert [r.amount for r in result.rows] == [Money(-500, "USD")]
    assert result.errors == [LineError(3, ImportErrorCode.BAD_KIND, "kind")]


def test_missing_columns_are_reported_once_for_the_file() -> None:
    options = ImportOptions(
        mapping=ColumnMapping(date="date", amount="sum", note="memo"), date_format="%Y", currency="USD"
    )
    result = parse_import("date,amount\n2026,1\n", options)
    assert result.rows == []
    assert result.errors == [
        LineError(1, ImportErrorCode.MISSING_COLUMN, "amount"),
        LineError(1, ImportErrorCode.MISSING_COLUMN, "note"),
    ]


def test_files_without_a_header_use_column_numbers() -> None:
    options = ImportOptions(
        mapping=ColumnMapping(date=1, amount=0, note=2), date_format="%d.%m.%Y", currency="RUB", has_header=False
    )
    result = parse_import("-250;12.05.2026;кофе\n-1 234.50;13.05.2026;продукты\n", options)
    assert [(r.line, r.amount.minor, r.note) for r in result.rows] == [(1, -25000, "кофе"), (2, -123450, "продукты")]
    named = ImportOptions(mapping=ColumnMapping(date="d", amount=0), date_format="%Y", currency="RUB", has_header=False)
    assert parse_import("1;2\n", named).errors == [LineError(0, ImportErrorCode.MISSING_COLUMN, "date")]


def test_row_limit() -> None:
    options = ImportOptions(
        mapping=ColumnMapping(date=0, amount=1), date_format="%Y-%m-%d", currency="USD", has_header=False, max_rows=2
    )
    # The broken last line is never read: reading stops at the limit.
    result = parse_import('2026-01-01,1\n2026-01-02,2\n2026-01-03,3\n2026-01-04,"4', options)
    assert len(result.rows) == 2
    assert result.errors == [LineError(3, ImportErrorCode.TOO_MANY_ROWS)]


def test_empty_and_broken_files() -> None:
    options = _export_options()
    assert parse_import("", options).rows == []
    assert parse_import("", options).errors == []
    good = export_csv([row(-100)])
    broken = good + '2026-05-13,Card,Food,expense,"-1.00'  # a quote never closed
    result = parse_import(broken, options)
    assert [r.line for r in result.rows] == [2]
    assert result.errors == [LineError(3, ImportErrorCode.UNREADABLE_FILE)]


@given(st.text(max_size=200))
def test_import_never_raises(text: str) -> None:
    result = parse_import(text, _export_options())
    assert all(isinstance(r, PlannedRow) for r in result.rows)
