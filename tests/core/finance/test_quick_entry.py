from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from babel.numbers import format_decimal
from hypothesis import given
from hypothesis import strategies as st

from core.finance.quick_entry import (
    MAX_AMOUNT,
    MAX_TEXT_LENGTH,
    Draft,
    Kind,
    Refusal,
    RefusalReason,
    guess_category,
    parse_quick_entry,
    word_history,
)

TODAY = date(2026, 6, 15)
ACCOUNTS = ["Card", "Cash", "карта", "Наличные", "Savings box"]
E, IN = Kind.EXPENSE, Kind.INCOME
D = Decimal


def draft(
    amount: str, kind: Kind, words: str, *, on: date = TODAY, account: str | None = None, currency: str | None = None
) -> Draft:
    return Draft(
        amount=D(amount), kind=kind, local_date=on, account=account, words=tuple(words.split()), currency=currency
    )


# (text, locale, expected)
ACCEPTED: list[tuple[str, str, Draft]] = [
    ("250 coffee", "en", draft("250", E, "coffee")),
    ("кофе 250", "ru", draft("250", E, "кофе")),
    ("250,50 такси вчера", "ru", draft("250.50", E, "такси", on=date(2026, 6, 14))),
    ("250,50 taxi yesterday", "en", draft("250.50", E, "taxi", on=date(2026, 6, 14))),  # ",50" cannot group
    ("+50000 salary", "en", draft("50000", IN, "salary")),
    ("-1200 groceries card", "en", draft("1200", E, "groceries", account="Card")),
    ("1 234,50 продукты", "ru", draft("1234.50", E, "продукты")),
    ("1\u00a0234,50 продукты", "ru", draft("1234.50", E, "продукты")),
    ("1,234.50 rent", "en", draft("1234.50", E, "rent")),
    ("1,234.50 аренда", "ru", draft("1234.50", E, "аренда")),  # both symbols: the last is the point
    ("1.234,50 rent", "en", draft("1234.50", E, "rent")),
    ("5k rent", "en", draft("5000", E, "rent")),
    ("2к такси", "ru", draft("2000", E, "такси")),
    ("+1.5k bonus", "en", draft("1500", IN, "bonus")),
    ("+1,5к премия", "ru", draft("1500", IN, "премия")),
    ("5K Rent", "en", draft("5000", E, "rent")),
    ("coffee 3.40 yesterday", "en", draft("3.40", E, "coffee", on=date(2026, 6, 14))),
    ("кофе 3.40 вчера", "ru", draft("3.40", E, "кофе", on=date(2026, 6, 14))),  # "." read as the point
    ("250 coffee 12.05", "en", draft("250", E, "coffee", on=date(2026, 5, 12))),
    ("250 coffee 20.06", "en", draft("250", E, "coffee", on=date(2025, 6, 20))),  # not in the future: last year
    ("250 coffee 15.06", "en", draft("250", E, "coffee", on=TODAY)),
    ("12.05 250 кофе", "ru", draft("250", E, "кофе", on=date(2026, 5, 12))),
    ("coffee 12.05", "en", draft("12.05", E, "coffee")),  # the only number is the amount
    ("250 coffee 2026-05-12", "en", draft("250", E, "coffee", on=date(2026, 5, 12))),
    ("250 coffee 12.05.2025", "en", draft("250", E, "coffee", on=date(2025, 5, 12))),
    ("250 кофе 12.05.25", "ru", draft("250", E, "кофе", on=date(2025, 5, 12))),
    ("позавчера 300 обед", "ru", draft("300", E, "обед", on=date(2026, 6, 13))),
    ("сегодня 300 обед", "ru", draft("300", E, "обед")),
    ("Today 42 Lunch with Bob", "en", draft("42", E, "lunch with bob")),
    ("1,234 rent", "en", draft("1234", E, "rent")),  # en: "," groups thousands
    ("1,234 аренда", "ru", draft("1.234", E, "аренда")),  # ru: "," is the decimal point
    ("1.234 rent", "en", draft("1.234", E, "rent")),
    ("1.234 Miete", "de", draft("1234", E, "miete")),  # de: "." groups thousands
    ("1,234,567 house", "en", draft("1234567", E, "house")),
    ("1 234 567 дом", "ru", draft("1234567", E, "дом")),
    ("покупки 500 КАРТА", "ru", draft("500", E, "покупки", account="карта")),
    ("500 наличные продукты", "ru", draft("500", E, "продукты", account="Наличные")),
    ("+200 savings box gift", "en", draft("200", IN, "gift", account="Savings box")),
    ("200 cashback", "en", draft("200", E, "cashback")),  # "cash" only as a whole word
    ("250", "en", draft("250", E, "")),
    ("coffee, 250!", "en", draft("250", E, "coffee")),
    ("$5 coffee", "en", draft("5", E, "coffee", currency="USD")),
    ("+$5 tip", "en", draft("5", IN, "tip", currency="USD")),
    ("250₽ кофе", "ru", draft("250", E, "кофе", currency="RUB")),
    ("250р такси", "ru", draft("250", E, "такси", currency="RUB")),
    ("250 руб кофе", "ru", draft("250", E, "кофе", currency="RUB")),
    ("2к€ отель", "ru", draft("2000", E, "отель", currency="EUR")),
    # A mark makes 12.05 the amount, so 10.05 is the date.
    ("12.05 USD coffee 10.05", "en", draft("12.05", E, "coffee", currency="USD", on=date(2026, 5, 10))),
    ("+ 500 salary", "en", draft("500", IN, "salary")),
    ("- 500 fine", "en", draft("500", E, "fine")),
    ("−75 parking", "en", draft("75", E, "parking")),  # the typographic minus sign
    ("0.5 gum", "en", draft("0.5", E, "gum")),
]

REFUSED: list[tuple[str, str, RefusalReason]] = [
    ("", "en", RefusalReason.EMPTY),
    ("   ", "ru", RefusalReason.EMPTY),
    ("coffee", "en", RefusalReason.NO_AMOUNT),
    ("вчера", "ru", RefusalReason.NO_AMOUNT),
    ("2026-05-12", "en", RefusalReason.NO_AMOUNT),  # only a date
    ("12.05.2026 кофе", "ru", RefusalReason.NO_AMOUNT),
    ("250 coffee 300", "en", RefusalReason.TWO_AMOUNTS),
    ("1 234,50 groceries", "en", RefusalReason.TWO_AMOUNTS),  # en does not group with spaces
    ("12.05 11.04 coffee", "en", RefusalReason.TWO_AMOUNTS),  # both could be dates
    ("250 coffee 31.02", "en", RefusalReason.TWO_AMOUNTS),  # 31.02 is no date, so a second amount
    ("0 coffee", "en", RefusalReason.ZERO_AMOUNT),
    ("0,00 кофе", "ru", RefusalReason.ZERO_AMOUNT),
    ("10000000000000 yacht", "en", RefusalReason.TOO_LARGE),
    ("99999999999k yacht", "en", RefusalReason.TOO_LARGE),
    ("1" * 40 + " yacht", "en", RefusalReason.TOO_LARGE),
    ("1,23,4 coffee", "en", RefusalReason.BAD_AMOUNT),
    ("1.234.5 coffee", "en", RefusalReason.BAD_AMOUNT),
    ("12,345,67 coffee", "en", RefusalReason.BAD_AMOUNT),
    ("250 coffee 2026-02-30", "en", RefusalReason.BAD_DATE),
    ("250 coffee 32.13.2026", "en", RefusalReason.BAD_DATE),
    ("250 coffee yesterday today", "en", RefusalReason.TWO_DATES),
    ("вчера 250 кофе 12.05", "ru", RefusalReason.TWO_DATES),
    ("250 coffee 2026-07-01", "en", RefusalReason.FUTURE_DATE),
    ("250 card cash", "en", RefusalReason.TWO_ACCOUNTS),
    ("x" * (MAX_TEXT_LENGTH + 1), "en", RefusalReason.TOO_LONG),
]


@pytest.mark.parametrize(("text", "locale", "expected"), ACCEPTED)
def test_accepted(text: str, locale: str, expected: Draft) -> None:
    assert parse_quick_entry(text, today=TODAY, locale=locale, accounts=ACCOUNTS) == expected


@pytest.mark.parametrize(("text", "locale", "reason"), REFUSED)
def test_refused(text: str, locale: str, reason: RefusalReason) -> None:
    result = parse_quick_entry(text, today=TODAY, locale=locale, accounts=ACCOUNTS)
    assert isinstance(result, Refusal)
    assert result.reason == reason


def test_table_is_as_large_as_promised() -> None:
    assert len(ACCEPTED) + len(REFUSED) >= 40
    assert len(REFUSED) >= 8


def test_refusal_names_the_token_at_fault() -> None:
    assert parse_quick_entry("250 coffee 300", today=TODAY) == Refusal(RefusalReason.TWO_AMOUNTS, "300")
    assert parse_quick_entry("1,23,4 x", today=TODAY) == Refusal(RefusalReason.BAD_AMOUNT, "1,23,4")


def test_note_is_the_words() -> None:
    result = parse_quick_entry("250 Coffee with Ann", today=TODAY)
    assert isinstance(result, Draft)
    assert result.note == "coffee with ann"


def test_leap_day_takes_the_latest_leap_year() -> None:
    result = parse_quick_entry("250 cake 29.02", today=TODAY)
    assert isinstance(result, Draft)
    assert result.local_date == date(2024, 2, 29)


words = st.sampled_from(["coffee", "такси", "rent", "обед"])
amounts = st.decimals(min_value=D("0.001"), max_value=MAX_AMOUNT, places=3, allow_nan=False, allow_infinity=False)


@given(amounts, st.sampled_from(["en", "ru"]), words)
def test_any_babel_formatted_amount_reads_back(amount: Decimal, locale: str, word: str) -> None:
    text = f"{format_decimal(amount, locale=locale, decimal_quantization=False)} {word}"
    result = parse_quick_entry(text, today=TODAY, locale=locale)
    assert isinstance(result, Draft), text
    assert result.amount == amount
    assert result.kind is Kind.EXPENSE
    assert result.words == (word,)


@given(amounts, st.sampled_from(["en", "ru"]), words)
def test_any_babel_formatted_income_reads_back(amount: Decimal, locale: str, word: str) -> None:
    text = f"{word} +{format_decimal(amount, locale=locale, decimal_quantization=False)}"
    result = parse_quick_entry(text, today=TODAY, locale=locale)
    assert isinstance(result, Draft), text
    assert (result.amount, result.kind) == (amount, Kind.INCOME)


@given(st.text(max_size=60), st.sampled_from(["en", "ru", "de"]))
def test_never_raises(text: str, locale: str) -> None:
    result = parse_quick_entry(text, today=TODAY, locale=locale, accounts=ACCOUNTS)
    assert isinstance(result, Draft | Refusal)
    if isinstance(result, Draft):
        assert result.amount > 0
        assert result.local_date <= TODAY


# -- category guessing ------------------------------------------------------------------------------------------

ALIASES = {"coffee": 1, "кофе": 1, "taxi": 2, "Uber": 2, "lunch": 3}
HISTORY = {
    "coffee": {4: 10},
    "beans": {5: 3, 1: 1},
    "market": {5: 1, 6: 1},
    "the": {5: 50, 6: 40, 7: 30},
    "gift": {8: 2, 9: 2},
}


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["coffee"], 1),  # an alias wins over history pointing elsewhere
        (["uber", "home"], 2),  # alias keys match regardless of case
        (["taxi", "coffee"], 2),  # one alias each: the first named wins
        (["coffee", "taxi", "uber"], 2),  # more alias words win
        (["beans"], 5),
        (["the", "beans"], 5),
        (["market"], 5),  # equal share and equal count: the lower id
        (["gift"], 8),
        (["market", "the"], 5),
        (["unknown", "words"], None),
        ([], None),
    ],
)
def test_guess_category(words: list[str], expected: int | None) -> None:
    assert guess_category(words, ALIASES, HISTORY) == expected


def test_a_common_word_weighs_no_more_than_a_rare_one() -> None:
    history = {"the": {1: 1000}, "dentist": {2: 3}, "visit": {2: 1, 3: 1}}
    assert guess_category(["the", "dentist", "visit"], {}, history) == 2


def test_word_history_from_past_notes() -> None:
    history = word_history([("Coffee beans", 5), ("coffee coffee", 1), ("coffee", 1), ("", 9)])
    assert history == {"coffee": {5: 1, 1: 2}, "beans": {5: 1}}
    assert guess_category(["coffee"], {}, history) == 1
    assert guess_category(["beans", "coffee"], {}, history) == 5


def test_history_counts_of_zero_are_no_evidence() -> None:
    assert guess_category(["x"], {}, {"x": {1: 0}}) is None


@given(
    st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=6),
    st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers(1, 5)),
    st.dictionaries(
        st.sampled_from(["a", "b", "c", "d"]), st.dictionaries(st.integers(1, 5), st.integers(0, 9), max_size=3)
    ),
)
def test_guess_is_one_of_the_candidates_and_order_of_mappings_does_not_matter(
    words: list[str], aliases: dict[str, int], history: dict[str, dict[int, int]]
) -> None:
    guess = guess_category(words, aliases, history)
    shuffled_aliases = dict(reversed(list(aliases.items())))
    shuffled_history = {k: dict(reversed(list(v.items()))) for k, v in reversed(list(history.items()))}
    assert guess == guess_category(words, shuffled_aliases, shuffled_history)
    alias_hits = {aliases[w] for w in words if w in aliases}
    if alias_hits:
        assert guess in alias_hits
    elif guess is not None:
        assert any(history.get(w, {}).get(guess, 0) > 0 for w in words)
