"""Reading a rate entry as people type it in a chat, in en and ru, and writing a rate back for the locale."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from core.errors import ValidationFailed
from core.finance.rates import RateEntry, format_rate, parse_rate_entry


@pytest.mark.parametrize(
    ("text", "locale", "expected"),
    [
        ("USD 92.5", "en", RateEntry("USD", Decimal("92.5"), None)),
        ("usd 92,50 2026-11-30", "en", RateEntry("USD", Decimal("92.50"), date(2026, 11, 30))),
        ("USD 92,50 30.11.2026", "ru", RateEntry("USD", Decimal("92.50"), date(2026, 11, 30))),
        # A point is a decimal point in ru too: one separator in a rate is never a thousands group there.
        ("EUR 0.0065", "ru", RateEntry("EUR", Decimal("0.0065"), None)),
        ("92.5 USD", "en", RateEntry("USD", Decimal("92.5"), None)),
        ("USD 1,234.5", "en", RateEntry("USD", Decimal("1234.5"), None)),
        ("KZT 0,18 01.02.26", "ru", RateEntry("KZT", Decimal("0.18"), date(2026, 2, 1))),
        ("USD 999999999999.000000000001", "en", RateEntry("USD", Decimal("999999999999.000000000001"), None)),
    ],
)
def test_entries_read(text: str, locale: str, expected: RateEntry) -> None:
    assert parse_rate_entry(text, locale=locale) == expected


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "finance.rate_entry_unreadable"),
        ("USD", "finance.rate_entry_unreadable"),
        ("USD 92.5 2026-11-30 more", "finance.rate_entry_unreadable"),
        ("dollar 92.5", "finance.rate_entry_unreadable"),
        ("1 2", "finance.rate_entry_unreadable"),
        ("USD " + "9" * 200, "finance.rate_entry_unreadable"),
        ("XYZ 1", "finance.currency_invalid"),
        ("USD abc", "finance.rate_unreadable"),
        ("USD 1e5", "finance.rate_unreadable"),
        ("USD NaN", "finance.rate_unreadable"),
        ("USD ٣", "finance.rate_unreadable"),
        ("USD 92,", "finance.rate_unreadable"),
        ("USD 1.2.3,4", "finance.rate_unreadable"),
        ("USD 0", "finance.rate_invalid"),
        ("USD 0,00", "finance.rate_invalid"),
        ("USD -5", "finance.rate_invalid"),
        ("USD −5", "finance.rate_invalid"),
        ("USD 1234567890123", "finance.rate_invalid"),
        ("USD 0.0000000000001", "finance.rate_invalid"),
        ("USD 1 2026-02-30", "finance.date_unreadable"),
        ("USD 1 31.11.2026", "finance.date_unreadable"),
        ("USD 1 tomorrow", "finance.date_unreadable"),
    ],
)
@pytest.mark.parametrize("locale", ["en", "ru"])
def test_refusals_name_what_is_wrong(text: str, code: str, locale: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_rate_entry(text, locale=locale)
    assert refused.value.code == code


def test_a_rate_is_written_as_the_locale_writes_numbers_with_every_digit() -> None:
    assert format_rate(Decimal("92.5"), locale="en") == "92.50"
    assert format_rate(Decimal("92.5"), locale="ru") == "92,50"
    assert format_rate(Decimal("1234.123456789012"), locale="en") == "1,234.123456789012"
    assert format_rate(Decimal("1234.5"), locale="ru") == "1\u00a0234,50"
    assert format_rate(Decimal("0.0065"), locale="ru") == "0,0065"
