"""Money as an integer count of a currency's minor units.

The exponent (how many minor units make a major one) comes from Babel's ISO 4217 data: JPY 0, USD 2, KWD 3. Nothing
here divides by 100 or touches a float; conversions to and from `Decimal` refuse to round unless the operation is a
rate conversion, which rounds half to even, explicitly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, Inexact, InvalidOperation, localcontext
from functools import lru_cache

from babel.numbers import (
    NumberFormatError,
    format_currency,
    get_currency_precision,
    get_currency_symbol,
    get_group_symbol,
    get_minus_sign_symbol,
    is_currency,
    parse_decimal,
)

from core.finance.errors import (
    AmountOutOfRange,
    AmountTooPrecise,
    AmountUnreadable,
    CurrencyMismatch,
    InvalidCurrency,
    InvalidRate,
)

# Amounts are stored in BIGINT columns: signed 64-bit on both SQLite and PostgreSQL.
MIN_MINOR = -(2**63)
MAX_MINOR = 2**63 - 1

_CODE = re.compile(r"[A-Z]{3}")
# Enough digits for any int64 times any accepted rate, so the product is exact before the one explicit rounding.
_WORK_PRECISION = 80
_MAX_RATE_DIGITS = 30
# People type ordinary spaces where the locale groups digits with (narrow) no-break spaces.
_SPACES = {" ", "\u00a0", "\u202f"}


def validate_currency(currency: object) -> str:
    """The currency code itself when it is three upper-case letters that Babel knows; InvalidCurrency otherwise."""
    if not isinstance(currency, str) or _CODE.fullmatch(currency) is None or not _known(currency):
        raise InvalidCurrency(currency)
    return currency


@lru_cache(maxsize=512)
def _known(currency: str) -> bool:
    return is_currency(currency)


@lru_cache(maxsize=512)
def currency_exponent(currency: str) -> int:
    """Digits after the point in the currency's minor unit (ISO 4217 via Babel)."""
    return int(get_currency_precision(validate_currency(currency)))


def _check_range(minor: int) -> int:
    if not MIN_MINOR <= minor <= MAX_MINOR:
        raise AmountOutOfRange()
    return minor


@dataclass(frozen=True, slots=True)
class Money:
    """An amount of one currency. Arithmetic and ordering across currencies raise CurrencyMismatch.

    Equality is plain value equality: 1 USD and 1 EUR are simply unequal (raising there would break sets and dicts).
    """

    minor: int
    currency: str

    def __post_init__(self) -> None:
        # bool is an int; True is not an amount.
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise AmountUnreadable(f"minor units must be an int, not {type(self.minor).__name__}")
        validate_currency(self.currency)
        _check_range(self.minor)

    # -- construction -------------------------------------------------------------------------------------------

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def from_decimal(cls, amount: Decimal, currency: str) -> Money:
        """The exact amount in minor units; AmountTooPrecise when it has more fractional digits than the currency.

        Trailing zeros are not precision: Decimal("12.00") is accepted for JPY, Decimal("12.5") is not.
        """
        if not isinstance(amount, Decimal) or not amount.is_finite():
            raise AmountUnreadable("amount must be a finite Decimal")
        exponent = currency_exponent(currency)
        # Huge exponents (1E+400) would make scaleb and int() crawl; the range check needs only the magnitude.
        if amount.adjusted() > 40:
            raise AmountOutOfRange()
        with localcontext() as ctx:
            ctx.prec = _WORK_PRECISION
            scaled = amount.scaleb(exponent)
            if scaled != scaled.to_integral_value():
                raise AmountTooPrecise(currency, exponent)
            return cls(_check_range(int(scaled)), currency)

    @classmethod
    def total(cls, items: Iterable[Money], currency: str) -> Money:
        """Sum of many amounts of `currency` (zero when there are none); CurrencyMismatch on any other currency."""
        validate_currency(currency)
        minor = 0
        for item in items:
            if item.currency != currency:
                raise CurrencyMismatch(currency, item.currency)
            minor += item.minor
        return cls(_check_range(minor), currency)

    @classmethod
    def parse(cls, text: str, currency: str, locale: str) -> Money:
        """Read an amount as the locale writes it ("1 234,50 ₽" in ru, "$1,234.50" in en).

        The currency's symbol or code may be present or not; ordinary spaces stand for the locale's no-break group
        spaces. AmountUnreadable for anything else, AmountTooPrecise for more digits than the currency has.
        """
        validate_currency(currency)
        cleaned = text
        for mark in sorted({get_currency_symbol(currency, locale), currency}, key=len, reverse=True):
            cleaned = cleaned.replace(mark, "")
        cleaned = cleaned.strip(" \t\u00a0\u202f")
        group = get_group_symbol(locale)
        if group in _SPACES:
            for space in _SPACES:
                cleaned = cleaned.replace(space, group)
        minus = get_minus_sign_symbol(locale)
        if minus != "-":
            cleaned = cleaned.replace(minus, "-")
        cleaned = cleaned.replace("\u2212", "-")
        if not cleaned or cleaned.count("-") > 1 or "-" in cleaned[1:] or "+" in cleaned:
            raise AmountUnreadable(f"not an amount: {text!r}")
        try:
            amount = parse_decimal(cleaned, locale=locale, strict=True)
        except (NumberFormatError, InvalidOperation) as exc:
            raise AmountUnreadable(f"not an amount: {text!r}") from exc
        if not amount.is_finite():
            raise AmountUnreadable(f"not an amount: {text!r}")
        return cls.from_decimal(amount, currency)

    # -- reading ------------------------------------------------------------------------------------------------

    @property
    def exponent(self) -> int:
        return currency_exponent(self.currency)

    def to_decimal(self) -> Decimal:
        """The exact amount in major units, with exactly the currency's number of fractional digits."""
        with localcontext() as ctx:
            ctx.prec = _WORK_PRECISION
            return Decimal(self.minor).scaleb(-self.exponent)

    def plain(self) -> str:
        """Locale-independent text ("-1234.50", "1234" for JPY) for files and APIs."""
        return f"{self.to_decimal():f}"

    def format(self, locale: str) -> str:
        """As the locale writes money, through Babel: "1 234,50 ₽" (no-break spaces) in ru, "$1,234.50" in en."""
        return str(format_currency(self.to_decimal(), self.currency, locale=locale))

    # -- arithmetic ---------------------------------------------------------------------------------------------

    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise CurrencyMismatch(self.currency, other.currency)

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return Money(_check_range(self.minor + other.minor), self.currency)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return Money(_check_range(self.minor - other.minor), self.currency)

    def __neg__(self) -> Money:
        # -(-2**63) does not fit: the constructor refuses it.
        return Money(-self.minor, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.minor), self.currency)

    def __lt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.minor < other.minor

    def __le__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.minor <= other.minor

    def __gt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.minor > other.minor

    def __ge__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same(other)
        return self.minor >= other.minor

    def convert(self, rate: Decimal, currency: str) -> Money:
        """This amount in `currency`, where one major unit of ours is worth `rate` major units of theirs.

        The product is computed exactly and rounded once, half to even, to the target's minor unit.
        """
        exponent = currency_exponent(currency)
        if not isinstance(rate, Decimal) or not rate.is_finite() or rate <= 0:
            raise InvalidRate()
        if len(rate.as_tuple().digits) > _MAX_RATE_DIGITS or not -40 < rate.adjusted() < 40:
            raise InvalidRate("exchange rate has too many digits")
        with localcontext() as ctx:
            ctx.prec = _WORK_PRECISION
            ctx.traps[Inexact] = True
            target = (Decimal(self.minor) * rate).scaleb(exponent - self.exponent)
            ctx.traps[Inexact] = False
            rounded = target.to_integral_value(rounding=ROUND_HALF_EVEN)
        return Money(_check_range(int(rounded)), currency)
