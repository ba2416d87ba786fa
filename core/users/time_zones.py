"""A person's time zone: an IANA name the system's zone database knows, spelled as the database spells it."""

from __future__ import annotations

import functools
import zoneinfo
from zoneinfo import ZoneInfo

from core.errors import ValidationFailed

# IANA names are short ASCII words joined by "/"; anything longer is no zone.
MAX_NAME = 64


# Not places: the host's own setting (which another host may lack) and the database's placeholders.
_NOT_PLACES = {"localtime", "Factory", "posixrules"}


@functools.cache
def _by_key() -> dict[str, str]:
    # "posix/…" and "right/…" are copies of the same zones under other trees; people never mean those.
    names = (
        name
        for name in zoneinfo.available_timezones()
        if not name.startswith(("posix/", "right/")) and name not in _NOT_PLACES
    )
    return {name.casefold(): name for name in names}


def time_zone_named(text: str) -> str:
    """The canonical name for what a person typed ("europe/moscow" → "Europe/Moscow"); ValidationFailed otherwise."""
    key = text.strip().replace(" ", "_").casefold()
    found = _by_key().get(key) if 0 < len(key) <= MAX_NAME else None
    if found is None:
        raise ValidationFailed("invalid_time_zone", "Unknown time zone: give an IANA name such as Europe/Moscow")
    return found


def known_zone(name: str | None) -> ZoneInfo | None:
    """A saved zone as this host knows it; None when none was chosen or the host's zone database lacks it (a saved
    name outlives a tzdata upgrade or a move to another host), so that it never fails a person's request."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def zone_or(name: str | None, default: ZoneInfo) -> ZoneInfo:
    return known_zone(name) or default
