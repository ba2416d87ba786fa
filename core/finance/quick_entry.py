"""Quick entry: one chat message ("250 coffee", "кофе 250 вчера", "+50000 salary") read as a transaction draft.

How numbers are read (`locale` gives the decimal and group symbols, through Babel):

* both "," and "." in a number: the last one is the decimal point, the other groups thousands ("1,234.50" and
  "1.234,50" are 1234.50 in every locale);
* one symbol, several times: thousands ("1,234,567", "1.234.567");
* one symbol, once: the locale's decimal symbol is a decimal point; the locale's group symbol groups thousands when
  exactly three digits follow it and is a decimal point otherwise ("250,50" in en is 250.50); a symbol that is neither
  is a decimal point ("3.40" in ru). So the ambiguous "1,234" is 1234 in en and 1.234 in ru, "1.234" is 1.234 in en
  and ru but 1234 in de;
* in locales that group with spaces (ru), digits in groups of three after a space join the number before them:
  "1 234,50" is one amount. Hence "250 300" in ru is 250300; in en it is two amounts and refused;
* "k"/"к" right after the number means thousands ("5k", "2к", "+1.5k").

A currency mark with the amount ("$5", "250₽", "250 руб") is reported in the draft, never applied: the account
decides the currency, and the caller compares the two.

A number with no sign is an expense, "+" an income, "-" an explicit expense. A token of the form dd.mm (two-digit
month) is a date when another number is the amount ("250 coffee 12.05"), else it is the amount ("coffee 12.05").
A dd.mm date takes the latest year that does not put it after `today`.

Nothing here raises on what a person typed: the result is a Draft or a Refusal with a reason code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from babel.numbers import get_decimal_symbol, get_group_symbol

from core.finance.dates import written_date

# Chat quick entries are short; a longer text is a message to someone, not an entry.
MAX_TEXT_LENGTH = 200
# Larger than any household amount in any currency in use, yet 10^12 x 10^4 (the largest exponent) fits 64 bits.
MAX_AMOUNT = Decimal(10) ** 12
_MAX_NUMBER_CHARS = 24
_EARLIEST_YEAR = 1900

DATE_WORDS: dict[str, int] = {
    "today": 0,
    "сегодня": 0,
    "yesterday": 1,
    "вчера": 1,
    "позавчера": 2,
}

_SPACES = "\u0020\u00a0\u202f"
# Currency marks written with an amount ("$5", "250₽", "250 руб"). The draft reports the currency they name, so the
# caller can check it against the account's; "¥" is left out, as it names both JPY and CNY.
CURRENCY_MARKS: dict[str, str] = {
    "$": "USD",
    "€": "EUR",
    "£": "GBP",
    "₽": "RUB",
    "₸": "KZT",
    "₴": "UAH",
    "р": "RUB",
    "руб": "RUB",
    "usd": "USD",
    "eur": "EUR",
    "rub": "RUB",
}
_AMOUNT = re.compile(
    r"(?P<sign>[+\-−]?)(?P<before>[$€£₽₸₴]?)(?P<number>\d[\d.,]*)(?P<thousand>[kк]?)"
    r"(?P<after>[$€£₽₸₴]|руб|р|rub|usd|eur)?",
    re.IGNORECASE,
)
_DAY_MONTH = re.compile(r"(?P<day>\d{1,2})\.(?P<month>\d{2})")
_EDGE_PUNCTUATION = ",;:!?()[]{}\"'«»“”"
_GROUPS = re.compile(r"\d{1,3}(?:[,.]\d{3})*")
# Digits, then groups of exactly three after spaces; not inside a date or a word ("2026-05-12 250" stays apart).
_SPACE_GROUPS = re.compile(rf"(?<![\w.,/-])([+\-−]?\d{{1,3}})((?:[{_SPACES}]\d{{3}})+)(?!\d)")
_ANY_SPACE = re.compile(f"[{_SPACES}]")


class Kind(StrEnum):
    EXPENSE = "expense"
    INCOME = "income"


class RefusalReason(StrEnum):
    EMPTY = "empty"
    TOO_LONG = "too_long"
    NO_AMOUNT = "no_amount"
    TWO_AMOUNTS = "two_amounts"
    ZERO_AMOUNT = "zero_amount"
    TOO_LARGE = "too_large"
    BAD_AMOUNT = "bad_amount"
    BAD_DATE = "bad_date"
    TWO_DATES = "two_dates"
    FUTURE_DATE = "future_date"
    TWO_ACCOUNTS = "two_accounts"


@dataclass(frozen=True, slots=True)
class Draft:
    """What the message says. `amount` is positive, in major units; the account's currency turns it into Money."""

    amount: Decimal
    kind: Kind
    local_date: date
    account: str | None
    words: tuple[str, ...]
    # ISO code named by a currency mark next to the amount ("$5" -> USD), None when there was none.
    currency: str | None = None

    @property
    def note(self) -> str:
        return " ".join(self.words)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why the message is not an entry; `token` is the piece at fault, when there is one, for the hint."""

    reason: RefusalReason
    token: str | None = None


@dataclass(frozen=True, slots=True)
class _Number:
    token: str
    value: Decimal
    sign: str
    # Set when the token also reads as a dd.mm date: that date.
    as_date: date | None
    currency: str | None


def parse_quick_entry(text: str, *, today: date, locale: str = "en", accounts: Iterable[str] = ()) -> Draft | Refusal:
    """Read one chat message as a draft; `today` is the family's local date, `accounts` the family's account names."""
    stripped = text.strip()
    if not stripped:
        return Refusal(RefusalReason.EMPTY)
    if len(stripped) > MAX_TEXT_LENGTH:
        return Refusal(RefusalReason.TOO_LONG)
    decimal_symbol, group_symbol = get_decimal_symbol(locale), get_group_symbol(locale)
    if group_symbol in _SPACES:
        stripped = _join_space_groups(stripped)

    numbers: list[_Number] = []
    dates: list[tuple[str, date]] = []
    words: list[str] = []
    pending_sign = ""
    previous_was_number = False
    for raw in stripped.split():
        token = raw.strip(_EDGE_PUNCTUATION).rstrip(".")
        if not token:
            continue
        if token in {"+", "-", "−"}:
            # "+ 500 salary": a detached sign belongs to the number after it.
            pending_sign = token
            previous_was_number = False
            continue
        lowered = token.lower()
        if lowered in DATE_WORDS:
            dates.append((token, today - timedelta(days=DATE_WORDS[lowered])))
        elif (full_date := _full_date(token)) is not None:
            if isinstance(full_date, Refusal):
                return full_date
            dates.append((token, full_date))
        elif (match := _AMOUNT.fullmatch(token)) is not None:
            if len(match["number"]) > _MAX_NUMBER_CHARS:
                return Refusal(RefusalReason.TOO_LARGE, token)
            value = _read_number(match["number"], decimal_symbol, group_symbol)
            if value is None:
                return Refusal(RefusalReason.BAD_AMOUNT, token)
            if match["thousand"]:
                value *= 1000
            sign = match["sign"] or pending_sign
            mark = match["before"] or match["after"]
            plain = not (match["sign"] or match["thousand"] or mark or pending_sign)
            as_date = _day_month(match["number"], today) if plain else None
            currency = CURRENCY_MARKS[mark.lower()] if mark else None
            numbers.append(_Number(token, value, sign, as_date, currency))
            previous_was_number = True
            pending_sign = ""
            continue
        elif lowered in CURRENCY_MARKS and previous_was_number and numbers[-1].currency is None:
            # "250 руб": a mark on its own right after the amount belongs to it.
            numbers[-1] = replace(numbers[-1], currency=CURRENCY_MARKS[lowered], as_date=None)
        else:
            words.append(pending_sign + token if pending_sign else token)
        pending_sign = ""
        previous_was_number = False

    if not numbers:
        return Refusal(RefusalReason.NO_AMOUNT)
    if len(numbers) > 1:
        # Numbers that read as dd.mm become dates when exactly one other number is left to be the amount.
        amounts = [n for n in numbers if n.as_date is None]
        if len(amounts) != 1:
            return Refusal(RefusalReason.TWO_AMOUNTS, numbers[1].token)
        dates.extend((n.token, n.as_date) for n in numbers if n.as_date is not None)
        numbers = amounts
    number = numbers[0]
    if len(dates) > 1:
        return Refusal(RefusalReason.TWO_DATES, dates[1][0])
    local_date = dates[0][1] if dates else today
    if local_date > today:
        return Refusal(RefusalReason.FUTURE_DATE, dates[0][0])
    if number.value == 0:
        return Refusal(RefusalReason.ZERO_AMOUNT, number.token)
    if number.value > MAX_AMOUNT:
        return Refusal(RefusalReason.TOO_LARGE, number.token)

    lowered_words = [w.lower() for w in words]
    found = _find_accounts(lowered_words, accounts)
    if len(found) > 1:
        return Refusal(RefusalReason.TWO_ACCOUNTS, found[1][0])
    account = None
    if found:
        account, positions = found[0]
        lowered_words = [w for i, w in enumerate(lowered_words) if i not in positions]
    kind = Kind.INCOME if number.sign == "+" else Kind.EXPENSE
    return Draft(
        amount=number.value,
        kind=kind,
        local_date=local_date,
        account=account,
        words=tuple(lowered_words),
        currency=number.currency,
    )


def _join_space_groups(text: str) -> str:
    """ "1 234,50" -> "1234,50": a space followed by exactly three digits continues the number before it."""
    return _SPACE_GROUPS.sub(lambda m: m[1] + _ANY_SPACE.sub("", m[2]), text)


def _read_number(number: str, decimal_symbol: str, group_symbol: str) -> Decimal | None:
    """The value of digits with "," and "." in them, by the rules in the module's docstring; None if unreadable."""
    commas, dots = number.count(","), number.count(".")
    if commas and dots:
        point = max(number.rfind(","), number.rfind("."))
        whole, fraction = number[:point], number[point + 1 :]
        if number[point] in whole or not _grouped(whole) or not fraction.isdigit():
            return None
        return Decimal(whole.replace(",", "").replace(".", "") + "." + fraction)
    if commas + dots == 0:
        return Decimal(number)
    symbol = "," if commas else "."
    if commas + dots > 1:
        return Decimal(number.replace(symbol, "")) if _grouped(number) else None
    whole, fraction = number.split(symbol)
    if not fraction:
        return None
    if symbol == group_symbol and symbol != decimal_symbol and len(fraction) == 3:
        return Decimal(whole + fraction) if len(whole) <= 3 else None
    return Decimal(whole + "." + fraction)


def _grouped(number: str) -> bool:
    return _GROUPS.fullmatch(number) is not None and len({c for c in number if c in ",."}) <= 1


def _full_date(token: str) -> date | Refusal | None:
    """An ISO or dd.mm.yyyy (dd.mm.yy) date; a Refusal when it has that shape but is no date; None otherwise."""
    try:
        value = written_date(token)
    except ValueError:
        return Refusal(RefusalReason.BAD_DATE, token)
    if value is None:
        return None
    if value.year < _EARLIEST_YEAR:
        return Refusal(RefusalReason.BAD_DATE, token)
    return value


def _day_month(number: str, today: date) -> date | None:
    """dd.mm in the latest year that keeps it on or before `today`; None if it is no day of any recent year."""
    match = _DAY_MONTH.fullmatch(number)
    if match is None:
        return None
    day, month = int(match["day"]), int(match["month"])
    # Eight years back always reaches a leap year, for 29.02.
    for year in range(today.year, today.year - 9, -1):
        try:
            value = date(year, month, day)
        except ValueError:
            continue
        if value <= today:
            return value
    return None


def _find_accounts(words: Sequence[str], accounts: Iterable[str]) -> list[tuple[str, set[int]]]:
    """Accounts named in the words (whole words, any case), longest names first, each word used at most once."""
    taken: set[int] = set()
    found: list[tuple[str, set[int]]] = []
    candidates = [(name, name.lower().split()) for name in accounts]
    for name, parts in sorted(candidates, key=lambda item: (-len(item[1]), item[0])):
        if not parts:
            continue
        positions: set[int] = set()
        for start in range(len(words) - len(parts) + 1):
            span = set(range(start, start + len(parts)))
            if list(words[start : start + len(parts)]) == parts and not span & (taken | positions):
                positions |= span
        if positions:
            taken |= positions
            found.append((name, positions))
    found.sort(key=lambda item: min(item[1]))
    return found


def word_history(entries: Iterable[tuple[str, int]]) -> dict[str, dict[int, int]]:
    """From (note, category id) of past entries, how often each word went to each category: guess_category's history.

    A word counts once per entry, so "coffee coffee" weighs like "coffee".
    """
    history: dict[str, dict[int, int]] = {}
    for note, category in entries:
        for word in set(note.lower().split()):
            counts = history.setdefault(word, {})
            counts[category] = counts.get(category, 0) + 1
    return history


def guess_category(
    words: Sequence[str],
    aliases: Mapping[str, int],
    history: Mapping[str, Mapping[int, int]],
) -> int | None:
    """The category a draft most likely belongs to, or None when nothing points anywhere.

    `aliases` (word -> category id) are the family's own rules and win over `history` (word -> {category id: how many
    past entries with that word went there}). Among aliases the category named by more words wins, then the one named
    first in the message. From history each word casts one vote split in proportion to its counts, so a word seen
    everywhere weighs no more than a rare one; ties go to the larger raw count, then to the lower id.
    """
    lowered = [w.lower() for w in words]
    alias_map = {key.lower(): category for key, category in aliases.items()}
    alias_votes: dict[int, int] = {}
    first_seen: dict[int, int] = {}
    for position, word in enumerate(lowered):
        if word in alias_map:
            category = alias_map[word]
            alias_votes[category] = alias_votes.get(category, 0) + 1
            first_seen.setdefault(category, position)
    if alias_votes:
        return min(alias_votes, key=lambda c: (-alias_votes[c], first_seen[c]))

    history_map = {key.lower(): counts for key, counts in history.items()}
    shares: dict[int, Fraction] = {}
    raw: dict[int, int] = {}
    for word in dict.fromkeys(lowered):
        counts = {c: n for c, n in history_map.get(word, {}).items() if n > 0}
        total = sum(counts.values())
        for category, count in counts.items():
            shares[category] = shares.get(category, Fraction(0)) + Fraction(count, total)
            raw[category] = raw.get(category, 0) + count
    if not shares:
        return None
    return min(shares, key=lambda c: (-shares[c], -raw[c], c))
