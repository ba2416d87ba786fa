"""A family's calendar: its "today" and its months, in its own time zone, whatever the server's."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from core.errors import ValidationFailed
from core.users.time_zones import time_zone_named


class InvalidTimeZone(ValidationFailed):
    def __init__(self, name: object) -> None:
        super().__init__("finance.time_zone_invalid", f"unknown time zone: {name!r}")


def validate_time_zone(name: object) -> str:
    """The IANA name itself ("Europe/Moscow"), spelled as the zone database spells it and a place (not the host's
    `localtime`); InvalidTimeZone otherwise. The same lookup as a person's zone, without its leniency on case."""
    if not isinstance(name, str):
        raise InvalidTimeZone(name)
    try:
        known = time_zone_named(name)
    except ValidationFailed as exc:
        raise InvalidTimeZone(name) from exc
    if known != name:
        raise InvalidTimeZone(name)
    return name


def local_date(moment: datetime, time_zone: str) -> date:
    """The calendar day an aware moment falls on in the time zone."""
    if moment.tzinfo is None:
        raise ValueError("an aware datetime is required")
    return moment.astimezone(ZoneInfo(validate_time_zone(time_zone))).date()


def month_bounds(day: date) -> tuple[date, date]:
    """The first day of the day's month and the first day of the next one (an exclusive end, as summaries take it)."""
    start = day.replace(day=1)
    end = date(start.year + 1, 1, 1) if start.month == 12 else date(start.year, start.month + 1, 1)
    return start, end


_ISO_DATE = re.compile(r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})")
_DOTTED_DATE = re.compile(r"(?P<day>\d{1,2})\.(?P<month>\d{1,2})\.(?P<year>\d{4}|\d{2})")


def written_date(token: str) -> date | None:
    """A date written ISO ("2026-11-30") or dd.mm.yyyy ("30.11.2026", "30.11.26" in the 2000s); None when the token
    is not written like one; ValueError when it is, yet names no day ("31.02.2026")."""
    match = _ISO_DATE.fullmatch(token) or _DOTTED_DATE.fullmatch(token)
    if match is None:
        return None
    year = int(match["year"])
    if len(match["year"]) == 2:
        year += 2000
    return date(year, int(match["month"]), int(match["day"]))
