"""A person's time zone: an IANA name the system's zone database knows, spelled as the database spells it."""

from __future__ import annotations

import functools
import zoneinfo

from core.errors import ValidationFailed

# IANA names are short ASCII words joined by "/"; anything longer is no zone.
MAX_NAME = 64


@functools.cache
def _by_key() -> dict[str, str]:
    # "posix/…" and "right/…" are copies of the same zones under other trees; people never mean those.
    names = (name for name in zoneinfo.available_timezones() if not name.startswith(("posix/", "right/")))
    return {name.casefold(): name for name in names}


def time_zone_named(text: str) -> str:
    """The canonical name for what a person typed ("europe/moscow" → "Europe/Moscow"); ValidationFailed otherwise."""
    key = text.strip().replace(" ", "_").casefold()
    found = _by_key().get(key) if 0 < len(key) <= MAX_NAME else None
    if found is None:
        raise ValidationFailed("invalid_time_zone", "Unknown time zone: give an IANA name such as Europe/Moscow")
    return found
