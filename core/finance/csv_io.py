"""CSV export and import of transactions, as pure functions on text.

Amounts are signed as the ledger keeps them: expenses negative, incomes positive. Exported amounts are plain decimal
strings with exactly the currency's number of fractional digits ("-1234.50", "1234" for JPY), whatever the reader's
locale, so spreadsheets and re-imports read them the same way everywhere.

Import never raises on what the file contains: each line becomes a planned row or a line error.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache

from core.errors import ValidationFailed
from core.finance.money import Money, validate_currency

EXPORT_HEADER = (
    "date",
    "account",
    "category",
    "kind",
    "amount",
    "currency",
    "base_amount",
    "base_currency",
    "note",
    "author",
)
# Spreadsheets run a cell that starts with one of these as a formula; text cells get a leading apostrophe.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_DELIMITERS = ",;\t|"
MAX_IMPORT_ROWS = 10_000
_SPACES = re.compile(r"[\s\u00a0\u202f']")


@dataclass(frozen=True, slots=True)
class ExportRow:
    local_date: date
    account: str
    category: str | None
    kind: str
    amount: Money
    base_amount: Money | None
    note: str
    author: str


def _text_cell(value: str) -> str:
    # A text that itself starts with an apostrophe gets one too, so that import can take exactly one away.
    return "'" + value if value.startswith((*_FORMULA_START, "'")) else value


def export_csv(rows: Iterable[ExportRow]) -> str:
    """CSV text (RFC 4180 line ends, header first) of the rows, in the order given."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_HEADER)
    for row in rows:
        writer.writerow(
            [
                row.local_date.isoformat(),
                _text_cell(row.account),
                _text_cell(row.category or ""),
                row.kind,
                row.amount.plain(),
                row.amount.currency,
                row.base_amount.plain() if row.base_amount else "",
                row.base_amount.currency if row.base_amount else "",
                _text_cell(row.note),
                _text_cell(row.author),
            ]
        )
    return buffer.getvalue()


# -- import -----------------------------------------------------------------------------------------------------


class SignConvention(StrEnum):
    NEGATIVE_IS_EXPENSE = "negative_is_expense"
    TYPE_COLUMN = "type_column"


class ImportErrorCode(StrEnum):
    MISSING_COLUMN = "missing_column"
    SHORT_ROW = "short_row"
    BAD_DATE = "bad_date"
    BAD_AMOUNT = "bad_amount"
    ZERO_AMOUNT = "zero_amount"
    BAD_KIND = "bad_kind"
    BAD_CURRENCY = "bad_currency"
    TOO_MANY_ROWS = "too_many_rows"
    TOO_LONG = "too_long"
    UNREADABLE_FILE = "unreadable_file"


Column = str | int


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    """Which column holds what: a header name (any case) when the file has a header, else a 0-based index."""

    date: Column
    amount: Column
    note: Column | None = None
    category: Column | None = None
    account: Column | None = None
    kind: Column | None = None
    currency: Column | None = None


@dataclass(frozen=True, slots=True)
class ImportOptions:
    mapping: ColumnMapping
    # A strptime format: "%Y-%m-%d", "%d.%m.%Y", "%m/%d/%Y".
    date_format: str
    # The currency of amounts when the file has no currency column (the target account's).
    currency: str
    sign: SignConvention = SignConvention.NEGATIVE_IS_EXPENSE
    # "." or ","; the other one, spaces and apostrophes are taken as thousands separators.
    decimal_symbol: str = "."
    has_header: bool = True
    # None: guessed from the first lines among , ; tab |.
    delimiter: str | None = None
    expense_words: frozenset[str] = frozenset({"expense", "debit", "out", "расход", "списание", "-"})
    income_words: frozenset[str] = frozenset({"income", "credit", "in", "доход", "зачисление", "+"})
    max_rows: int = MAX_IMPORT_ROWS
    # The ledger's note column holds this many characters.
    max_note_length: int = 500


@dataclass(frozen=True, slots=True)
class PlannedRow:
    line: int
    local_date: date
    kind: str
    amount: Money
    note: str
    category: str | None
    account: str | None
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class LineError:
    line: int
    code: ImportErrorCode
    column: str | None = None


@dataclass(frozen=True, slots=True)
class ImportResult:
    rows: list[PlannedRow] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ExistingEntry:
    """A transaction already in the ledger, as far as duplicate detection looks at it."""

    local_date: date
    amount: Money
    note: str


def duplicate_key(local_date: date, amount: Money, note: str) -> tuple[date, int, str, str]:
    """Rows are the same entry when date, signed amount and note (case and spacing aside) agree."""
    return (local_date, amount.minor, amount.currency, " ".join(note.casefold().split()))


def parse_import(text: str, options: ImportOptions, existing: Iterable[ExistingEntry] = ()) -> ImportResult:
    """Planned rows and per-line errors for a CSV text. Line numbers are the file's, counting from 1.

    Each existing entry marks at most one equal row as a duplicate, so a file imported twice is all duplicates while
    two equal coffees on one day, one of them already recorded, leave one to import.
    """
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=options.delimiter or _sniff(text), strict=True)
    result = ImportResult()
    # Read lazily: a huge file stops costing anything once max_rows is passed.
    lines = ((reader.line_num, row) for row in reader if any(cell.strip() for cell in row))
    try:
        indexes = _indexes(lines, options)
        if isinstance(indexes, list):
            return ImportResult(errors=indexes)
        for count, (number, row) in enumerate(lines):
            if count >= options.max_rows:
                result.errors.append(LineError(number, ImportErrorCode.TOO_MANY_ROWS))
                break
            planned = _plan(number, row, indexes, options)
            if isinstance(planned, PlannedRow):
                result.rows.append(planned)
            else:
                result.errors.append(planned)
    except csv.Error:
        result.errors.append(LineError(reader.line_num, ImportErrorCode.UNREADABLE_FILE))

    seen = Counter(duplicate_key(e.local_date, e.amount, e.note) for e in existing)
    for position, planned in enumerate(result.rows):
        key = duplicate_key(planned.local_date, planned.amount, planned.note)
        if seen[key] > 0:
            seen[key] -= 1
            result.rows[position] = replace(planned, duplicate=True)
    return result


def _indexes(lines: Iterator[tuple[int, list[str]]], options: ImportOptions) -> dict[str, int] | list[LineError]:
    """Column index per mapped role, from the header (consumed here) or the mapping's numbers; errors if missing."""
    if options.sign is SignConvention.TYPE_COLUMN and options.mapping.kind is None:
        return [LineError(0, ImportErrorCode.MISSING_COLUMN, "kind")]
    indexes: dict[str, int] = {}
    if not options.has_header:
        for role, column in _mapped(options.mapping):
            if not isinstance(column, int) or column < 0:
                return [LineError(0, ImportErrorCode.MISSING_COLUMN, role)]
            indexes[role] = column
        return indexes
    first = next(lines, None)
    if first is None:
        return indexes  # an empty file: nothing to import, nothing wrong
    header_line, header = first
    names = {cell.strip().casefold(): i for i, cell in enumerate(header)}
    missing = []
    for role, column in _mapped(options.mapping):
        index = names.get(column.strip().casefold()) if isinstance(column, str) else column
        if index is None or index < 0:
            missing.append(LineError(header_line, ImportErrorCode.MISSING_COLUMN, role))
        else:
            indexes[role] = index
    return missing or indexes


def _mapped(mapping: ColumnMapping) -> list[tuple[str, Column]]:
    roles = ("date", "amount", "note", "category", "account", "kind", "currency")
    return [(role, column) for role in roles if (column := getattr(mapping, role)) is not None]


def _sniff(text: str) -> str:
    sample = "\n".join(text.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ","


def _cell(row: Sequence[str], indexes: dict[str, int], role: str) -> str | None:
    index = indexes.get(role)
    if index is None:
        return None
    value = row[index].strip()
    # Undo the export's formula guard, so that exported files import unchanged.
    if value.startswith("'") and value[1:].startswith((*_FORMULA_START, "'")):
        value = value[1:]
    return value


def _plan(number: int, row: Sequence[str], indexes: dict[str, int], options: ImportOptions) -> PlannedRow | LineError:
    if any(index >= len(row) for index in indexes.values()):
        return LineError(number, ImportErrorCode.SHORT_ROW)
    date_text = _cell(row, indexes, "date") or ""
    try:
        local_date = datetime.strptime(date_text, options.date_format).date()
    except ValueError:
        return LineError(number, ImportErrorCode.BAD_DATE, "date")

    currency = _cell(row, indexes, "currency") or options.currency
    try:
        validate_currency(currency.upper())
    except ValidationFailed:
        return LineError(number, ImportErrorCode.BAD_CURRENCY, "currency")

    value = _read_amount(_cell(row, indexes, "amount") or "", options.decimal_symbol)
    if value is None:
        return LineError(number, ImportErrorCode.BAD_AMOUNT, "amount")
    if value == 0:
        return LineError(number, ImportErrorCode.ZERO_AMOUNT, "amount")
    if options.sign is SignConvention.TYPE_COLUMN:
        word = (_cell(row, indexes, "kind") or "").casefold()
        if word in {w.casefold() for w in options.expense_words}:
            kind, value = "expense", -abs(value)
        elif word in {w.casefold() for w in options.income_words}:
            kind, value = "income", abs(value)
        else:
            return LineError(number, ImportErrorCode.BAD_KIND, "kind")
    else:
        kind = "expense" if value < 0 else "income"
    try:
        amount = Money.from_decimal(value, currency.upper())
    except ValidationFailed:
        return LineError(number, ImportErrorCode.BAD_AMOUNT, "amount")

    note = _cell(row, indexes, "note") or ""
    if len(note) > options.max_note_length:
        return LineError(number, ImportErrorCode.TOO_LONG, "note")
    return PlannedRow(
        line=number,
        local_date=local_date,
        kind=kind,
        amount=amount,
        note=note,
        category=_cell(row, indexes, "category") or None,
        account=_cell(row, indexes, "account") or None,
    )


def _read_amount(text: str, decimal_symbol: str) -> Decimal | None:
    """A signed decimal; the group symbol only between groups of three digits, so that a file whose decimal symbol
    is not the one chosen ("4,20" read with ".") is refused instead of read as 420."""
    cleaned = _SPACES.sub("", text).replace("\u2212", "-")
    group = "," if decimal_symbol == "." else "."
    if len(cleaned) > 40 or _amount_pattern(decimal_symbol, group).fullmatch(cleaned) is None:
        return None
    return Decimal(cleaned.replace(group, "").replace(decimal_symbol, "."))


@lru_cache(maxsize=4)
def _amount_pattern(decimal_symbol: str, group: str) -> re.Pattern[str]:
    d, g = re.escape(decimal_symbol), re.escape(group)
    return re.compile(rf"[+-]?(?:\d{{1,3}}(?:{g}\d{{3}})+|\d+)(?:{d}\d+)?")
