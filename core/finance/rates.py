"""Exchange rates as people type them in a chat ("USD 92.5", "usd 92,50 30.11.2026") and as they read them.

A rate is what one unit of a currency is worth in the family's base currency. How a rate entry is read:

* words: a currency code (three letters, any case), a rate, and optionally a date, ISO ("2026-11-30") or
  dd.mm.yyyy ("30.11.2026"); the rate may come before the code ("92.5 USD"); anything more is refused;
* the rate goes through Babel in the person's locale ("92.5" in en, "92,5" in ru, "1,234.5" in en); when the locale
  does not read it and it has one "," or ".", that symbol is the decimal point, so "92,50" is 92.50 in en too.
  Only ASCII digits are let through: Babel alone would also take "1e5", "NaN" and other scripts' digits;
* at most 12 digits before and 12 after the point (as the REST body allows); zero and negative rates are refused.

Refusals are the domain's ValidationFailed subclasses, each with its code, so a face maps them the same way as the
ledger's own (a base currency given a rate, a role that may not set one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from babel.numbers import NumberFormatError, format_decimal, parse_decimal

from core.finance.dates import written_date
from core.finance.errors import (
    DateUnreadable,
    InvalidRate,
    RateEntryUnreadable,
    RateUnreadable,
)
from core.finance.money import validate_currency

MAX_RATE_DIGITS = 12
# A chat line with a rate is short; longer text is refused before anything parses it.
MAX_TEXT_LENGTH = 100

_CODE = re.compile(r"[A-Za-z]{3}")
_NUMBER = re.compile(r"[+\-−]?[0-9][0-9.,]*")


@dataclass(frozen=True, slots=True)
class RateEntry:
    currency: str
    rate: Decimal
    # None: the family's today.
    day: date | None


def parse_rate_entry(text: str, *, locale: str) -> RateEntry:
    """Read "USD 92.5 [date]"; raises the ValidationFailed subclass that names what is wrong."""
    words = text.split() if len(text) <= MAX_TEXT_LENGTH else []
    if len(words) not in (2, 3):
        raise RateEntryUnreadable()
    if _CODE.fullmatch(words[0]) is None and _CODE.fullmatch(words[1]) is not None:
        words[0], words[1] = words[1], words[0]
    if _CODE.fullmatch(words[0]) is None:
        raise RateEntryUnreadable()
    currency = validate_currency(words[0].upper())
    rate = parse_rate(words[1], locale=locale)
    day = parse_date(words[2]) if len(words) == 3 else None
    return RateEntry(currency, rate, day)


def parse_rate(text: str, *, locale: str) -> Decimal:
    token = text.strip()
    if _NUMBER.fullmatch(token) is None or token.endswith((",", ".")):
        raise RateUnreadable(text)
    digits = token.lstrip("+-−")
    value = _read_decimal(digits, locale)
    if value is None:
        raise RateUnreadable(text)
    if token[0] in "-−" or value == 0:
        raise InvalidRate("an exchange rate is positive")
    exponent = value.as_tuple().exponent
    fraction = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if fraction > MAX_RATE_DIGITS or len(str(int(value))) > MAX_RATE_DIGITS:
        raise InvalidRate(f"an exchange rate has at most {MAX_RATE_DIGITS} digits before and after the point")
    return value


def _read_decimal(digits: str, locale: str) -> Decimal | None:
    try:
        return parse_decimal(digits, locale=locale, strict=True)
    except (NumberFormatError, InvalidOperation):
        pass
    # Not the locale's way, yet unambiguous for a rate: one separator is the decimal point ("92,50" in en).
    if digits.count(",") + digits.count(".") == 1:
        return Decimal(digits.replace(",", "."))
    return None


def parse_date(text: str) -> date:
    try:
        day = written_date(text)
    except ValueError:
        day = None
    if day is None:
        raise DateUnreadable(text)
    return day


# At least two decimals, as money is read, and every digit the rate has (up to the twelve it may have).
_RATE_PATTERN = "#,##0.00" + "#" * (MAX_RATE_DIGITS - 2)


def format_rate(rate: Decimal, *, locale: str) -> str:
    """A rate as the locale writes numbers, every digit kept: "1,234.50" in en, "1 234,50" in ru (no-break space).

    Not as money: Babel writes "RUB92.50" in en, and the code next to a bare number reads better in a rate line."""
    return str(format_decimal(rate, format=_RATE_PATTERN, locale=locale))
