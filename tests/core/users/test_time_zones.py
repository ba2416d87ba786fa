"""What a person may type as their time zone, and what is saved."""

from __future__ import annotations

import pytest

from core.errors import ValidationFailed
from core.users.time_zones import time_zone_named


@pytest.mark.parametrize(
    ("typed", "saved"),
    [
        ("Europe/Moscow", "Europe/Moscow"),
        ("europe/moscow", "Europe/Moscow"),
        ("  Asia/Tokyo ", "Asia/Tokyo"),
        ("America/New York", "America/New_York"),
        ("utc", "UTC"),
        ("America/Argentina/Buenos_Aires", "America/Argentina/Buenos_Aires"),
    ],
)
def test_known_zones_are_saved_as_the_database_spells_them(typed: str, saved: str) -> None:
    assert time_zone_named(typed) == saved


@pytest.mark.parametrize(
    "typed",
    [
        "",
        " ",
        "Mars/Olympus",
        "../../etc/passwd",
        "/etc/localtime",
        "posix/Europe/Moscow",
        "Europe/" + "x" * 60,
        "+03:00",
        "localtime",
        "Factory",
        "posixrules",
    ],
)
def test_anything_else_is_refused(typed: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        time_zone_named(typed)
    assert refused.value.code == "invalid_time_zone"
