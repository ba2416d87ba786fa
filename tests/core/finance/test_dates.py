from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.finance.dates import InvalidTimeZone, local_date, month_bounds, validate_time_zone


def test_known_zones_pass() -> None:
    assert validate_time_zone("Europe/Moscow") == "Europe/Moscow"
    assert validate_time_zone("UTC") == "UTC"


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Mars/Olympus",
        "../../etc/passwd",
        "/etc/localtime",
        "Europe/Москва",
        3,
        None,
        # The host's own setting and copies under other trees: no place a family lives in.
        "localtime",
        "posix/Europe/Moscow",
        # A family's zone is kept as given, so it must be given as the database spells it.
        "europe/moscow",
    ],
)
def test_unknown_zones_are_refused(name: object) -> None:
    with pytest.raises(InvalidTimeZone) as caught:
        validate_time_zone(name)
    assert caught.value.code == "finance.time_zone_invalid"


def test_the_family_day_follows_its_zone() -> None:
    moment = datetime(2026, 5, 31, 22, 30, tzinfo=UTC)
    assert local_date(moment, "UTC") == date(2026, 5, 31)
    assert local_date(moment, "Europe/Moscow") == date(2026, 6, 1)  # UTC+3
    assert local_date(moment, "America/New_York") == date(2026, 5, 31)
    with pytest.raises(ValueError, match="aware"):
        local_date(datetime(2026, 5, 31), "UTC")


def test_month_bounds() -> None:
    assert month_bounds(date(2026, 5, 17)) == (date(2026, 5, 1), date(2026, 6, 1))
    assert month_bounds(date(2026, 12, 31)) == (date(2026, 12, 1), date(2027, 1, 1))
    assert month_bounds(date(2024, 2, 29)) == (date(2024, 2, 1), date(2024, 3, 1))


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(9998, 12, 31)))
def test_month_bounds_hold_the_day_and_one_month_only(day: date) -> None:
    start, end = month_bounds(day)
    assert start <= day < end
    assert start.day == 1
    assert end.day == 1
    assert (end - timedelta(days=1)).month == start.month
