from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from babel.numbers import format_currency
from hypothesis import given
from hypothesis import strategies as st

from core.errors import ValidationFailed
from core.finance.errors import (
    AmountOutOfRange,
    AmountTooPrecise,
    AmountUnreadable,
    CurrencyMismatch,
    InvalidCurrency,
    InvalidRate,
)
from core.finance.money import MAX_MINOR, MIN_MINOR, Money, currency_exponent

# One currency per exponent the brief names: 0, 2 (two of them, one with a non-Latin symbol) and 3.
CURRENCIES = ["JPY", "USD", "RUB", "KWD"]
LOCALES = ["en", "ru", "de"]

minor_units = st.integers(min_value=MIN_MINOR + 1, max_value=MAX_MINOR)


def test_exponents_come_from_babel() -> None:
    assert [currency_exponent(c) for c in ["JPY", "USD", "RUB", "KWD"]] == [0, 2, 2, 3]


@pytest.mark.parametrize("code", ["usd", "US", "USDT", "XYZ", "", " USD", 840, None])
def test_invalid_currency_codes_are_refused(code: object) -> None:
    with pytest.raises(InvalidCurrency) as caught:
        Money(1, code)  # type: ignore[arg-type]
    assert caught.value.code == "finance.currency_invalid"
    assert isinstance(caught.value, ValidationFailed)


@pytest.mark.parametrize("minor", [1.5, Decimal(1), "1", True])
def test_minor_units_are_ints_only(minor: object) -> None:
    with pytest.raises(AmountUnreadable):
        Money(minor, "USD")  # type: ignore[arg-type]


def test_signed_64_bit_bounds() -> None:
    assert Money(MAX_MINOR, "USD").minor == MAX_MINOR
    assert Money(MIN_MINOR, "USD").minor == MIN_MINOR
    with pytest.raises(AmountOutOfRange):
        Money(MAX_MINOR + 1, "USD")
    with pytest.raises(AmountOutOfRange):
        Money(MIN_MINOR - 1, "USD")
    with pytest.raises(AmountOutOfRange):
        Money(MAX_MINOR, "USD") + Money(1, "USD")
    with pytest.raises(AmountOutOfRange):
        -Money(MIN_MINOR, "USD")
    with pytest.raises(AmountOutOfRange):
        Money.from_decimal(Decimal("1E+30"), "USD")


def test_arithmetic_and_ordering() -> None:
    a, b = Money(1050, "USD"), Money(-250, "USD")
    assert a + b == Money(800, "USD")
    assert a - b == Money(1300, "USD")
    assert -a == Money(-1050, "USD")
    assert abs(b) == Money(250, "USD")
    assert b < a
    assert a >= a
    assert sorted([a, b]) == [b, a]


def test_mixed_currencies_are_refused() -> None:
    usd, eur = Money(100, "USD"), Money(100, "EUR")
    for operation in (
        lambda: usd + eur,
        lambda: usd - eur,
        lambda: usd < eur,
        lambda: usd <= eur,
        lambda: usd > eur,
        lambda: usd >= eur,
        lambda: Money.total([usd, eur], "USD"),
    ):
        with pytest.raises(CurrencyMismatch) as caught:
            operation()
        assert caught.value.code == "finance.currency_mismatch"
    assert usd != eur  # unequal, not an error


def test_money_and_plain_numbers_do_not_mix() -> None:
    usd = Money(100, "USD")
    assert usd != object()
    with pytest.raises(TypeError):
        usd + 1  # type: ignore[operator]
    with pytest.raises(TypeError):
        assert usd < 1  # type: ignore[operator]


@given(st.lists(st.integers(min_value=-(10**15), max_value=10**15), max_size=30), st.sampled_from(CURRENCIES))
def test_total_is_the_sum_of_minor_units(values: list[int], currency: str) -> None:
    items = [Money(v, currency) for v in values]
    assert Money.total(items, currency) == Money(sum(values), currency)
    assert sum(items, Money.zero(currency)) == Money(sum(values), currency)


@given(
    st.lists(st.integers(min_value=-(10**6), max_value=10**6), min_size=1, max_size=10),
    st.lists(st.integers(min_value=-(10**6), max_value=10**6), min_size=1, max_size=10),
)
def test_any_second_currency_in_a_sum_is_refused(usd: list[int], eur: list[int]) -> None:
    items = [Money(v, "USD") for v in usd] + [Money(v, "EUR") for v in eur]
    with pytest.raises(CurrencyMismatch):
        Money.total(items, "USD")


def test_total_of_nothing_is_zero() -> None:
    assert Money.total([], "KWD") == Money(0, "KWD")


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("1234.5", "USD", 123450),
        ("1234.50", "USD", 123450),
        ("-0.01", "USD", -1),
        ("1234", "JPY", 1234),
        ("1234.00", "JPY", 1234),  # trailing zeros lose nothing
        ("1.234", "KWD", 1234),
        ("0", "KWD", 0),
    ],
)
def test_from_decimal(amount: str, currency: str, minor: int) -> None:
    assert Money.from_decimal(Decimal(amount), currency) == Money(minor, currency)


@pytest.mark.parametrize(
    ("amount", "currency"), [("0.001", "USD"), ("1.5", "JPY"), ("1.2345", "KWD"), ("10.005", "RUB")]
)
def test_from_decimal_never_rounds(amount: str, currency: str) -> None:
    with pytest.raises(AmountTooPrecise) as caught:
        Money.from_decimal(Decimal(amount), currency)
    assert caught.value.code == "finance.amount_too_precise"


@pytest.mark.parametrize("amount", [Decimal("NaN"), Decimal("Infinity"), 1.5, 3])
def test_from_decimal_wants_a_finite_decimal(amount: object) -> None:
    with pytest.raises(AmountUnreadable):
        Money.from_decimal(amount, "USD")  # type: ignore[arg-type]


@given(minor_units, st.sampled_from(CURRENCIES))
def test_decimal_round_trip(minor: int, currency: str) -> None:
    money = Money(minor, currency)
    assert Money.from_decimal(money.to_decimal(), currency) == money
    assert money.to_decimal().as_tuple().exponent == -currency_exponent(currency)
    assert Money.from_decimal(Decimal(money.plain()), currency) == money


def test_plain_text() -> None:
    assert Money(-123450, "USD").plain() == "-1234.50"
    assert Money(5, "JPY").plain() == "5"
    assert Money(5, "KWD").plain() == "0.005"


@pytest.mark.parametrize(
    ("minor", "source", "rate", "target", "expected"),
    [
        (10000, "USD", Decimal("92.5"), "RUB", 925000),  # 100 USD -> 9250 RUB
        (100, "JPY", Decimal("0.0067"), "USD", 67),  # 100 JPY -> 0.67 USD
        (1, "USD", Decimal("0.5"), "USD", 0),  # 0.005 -> 0.00 (half to even)
        (3, "USD", Decimal("0.5"), "USD", 2),  # 0.015 -> 0.02 (half to even)
        (5, "USD", Decimal("0.5"), "USD", 2),  # 0.025 -> 0.02 (half to even)
        (-5, "USD", Decimal("0.5"), "USD", -2),
        (1000, "KWD", Decimal("3.25"), "USD", 325),  # 1.000 KWD -> 3.25 USD
        (1, "USD", Decimal("150.5"), "JPY", 2),  # 0.01 USD -> 1.505 JPY -> 2
        (12345, "USD", Decimal("1"), "KWD", 123450),
    ],
)
def test_convert_rounds_half_to_even(minor: int, source: str, rate: Decimal, target: str, expected: int) -> None:
    assert Money(minor, source).convert(rate, target) == Money(expected, target)


@given(
    st.integers(min_value=-(10**18), max_value=10**18),
    st.decimals(min_value=Decimal("0.000001"), max_value=Decimal(1000), places=6),
    st.sampled_from(CURRENCIES),
    st.sampled_from(CURRENCIES),
)
def test_convert_matches_exact_arithmetic(minor: int, rate: Decimal, source: str, target: str) -> None:
    """Python's round() of a Fraction rounds half to even, on the exact product: the reference to compare with."""
    exact = Fraction(minor) * Fraction(rate) * Fraction(10) ** (currency_exponent(target) - currency_exponent(source))
    expected = round(exact)
    if MIN_MINOR <= expected <= MAX_MINOR:
        assert Money(minor, source).convert(rate, target) == Money(expected, target)
    else:
        with pytest.raises(AmountOutOfRange):
            Money(minor, source).convert(rate, target)


@pytest.mark.parametrize("rate", [Decimal(0), Decimal(-1), Decimal("NaN"), Decimal("Infinity"), 1.5])
def test_convert_refuses_bad_rates(rate: object) -> None:
    with pytest.raises(InvalidRate):
        Money(100, "USD").convert(rate, "EUR")  # type: ignore[arg-type]


def test_convert_refuses_results_beyond_64_bits() -> None:
    with pytest.raises(AmountOutOfRange):
        Money(MAX_MINOR, "USD").convert(Decimal(2), "EUR")


def test_format_follows_babel() -> None:
    assert Money(123450, "USD").format("en") == "$1,234.50"
    ru = Money(123450, "RUB").format("ru")
    assert ru == format_currency(Decimal("1234.50"), "RUB", locale="ru")
    assert ru.replace("\u00a0", " ") == "1 234,50 ₽"  # Babel's group and symbol spaces are no-break spaces
    assert " " not in ru
    assert Money(1234, "JPY").format("en") == "¥1,234"
    assert Money(1234, "KWD").format("en") == format_currency(Decimal("1.234"), "KWD", locale="en")


@pytest.mark.parametrize(
    ("text", "currency", "locale", "minor"),
    [
        ("$1,234.50", "USD", "en", 123450),
        ("1,234.50", "USD", "en", 123450),
        ("-$0.05", "USD", "en", -5),
        ("1 234,50 ₽", "RUB", "ru", 123450),  # ordinary spaces typed by a person
        ("1\u00a0234,50\u00a0₽", "RUB", "ru", 123450),
        ("1234,5", "RUB", "ru", 123450),
        ("1 234 RUB", "RUB", "ru", 123400),
        ("¥1,234", "JPY", "en", 1234),
        ("1,234", "KWD", "ru", 1234),
    ],
)
def test_parse_examples(text: str, currency: str, locale: str, minor: int) -> None:
    assert Money.parse(text, currency, locale) == Money(minor, currency)


@pytest.mark.parametrize(
    ("text", "currency", "locale", "error"),
    [
        ("", "USD", "en", AmountUnreadable),
        ("$", "USD", "en", AmountUnreadable),
        ("abc", "USD", "en", AmountUnreadable),
        ("1,23,4", "USD", "en", AmountUnreadable),
        ("1-2", "USD", "en", AmountUnreadable),
        ("+5", "USD", "en", AmountUnreadable),
        ("NaN", "USD", "en", AmountUnreadable),
        ("1.234", "USD", "en", AmountTooPrecise),
        ("1,5", "JPY", "ru", AmountTooPrecise),
    ],
)
def test_parse_refusals(text: str, currency: str, locale: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        Money.parse(text, currency, locale)


@given(minor_units, st.sampled_from(CURRENCIES), st.sampled_from(LOCALES))
def test_format_parse_round_trip(minor: int, currency: str, locale: str) -> None:
    money = Money(minor, currency)
    assert Money.parse(money.format(locale), currency, locale) == money
