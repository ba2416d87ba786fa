"""Every message the code asks for exists, translated, in every catalog, with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ("en", "ru")
KEYWORDS: dict[str, tuple[int, ...] | None] = {"_": None, "__": None, "gettext": None, "N_": None}
# The human text of errors the REST API answers with (translated by webserver/i18n.py): the message argument.
KEYWORDS.update(
    dict.fromkeys(
        [
            "DomainError",
            "ValidationFailed",
            "NotFound",
            "Conflict",
            "Unauthorized",
            "Forbidden",
            "TooManyRequests",
            "Unavailable",
        ],
        (2,),
    )
)
KEYWORDS["ApiError"] = (2,)
PLACEHOLDER = re.compile(r"\{(\w*)\}")


def source_messages() -> set[str]:
    found: set[str] = set()
    for package in ("bot", "core", "webserver"):
        for _, _, message, _, _ in extract_from_dir(
            ROOT / package, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            found.add(message if isinstance(message, str) else message[0])
    return found


def catalog(locale: str) -> dict[str, str]:
    with (ROOT / "locales" / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        parsed = read_po(handle, locale=locale)
    return {str(message.id): str(message.string) for message in parsed if message.id}


def test_source_has_messages() -> None:
    assert "Choose your language:" in source_messages()


@pytest.mark.parametrize("locale", LOCALES)
def test_catalog_complete_and_current(locale: str) -> None:
    wanted = source_messages()
    entries = catalog(locale)
    missing = sorted(wanted - set(entries))
    untranslated = sorted(msgid for msgid in wanted & set(entries) if not entries[msgid].strip())
    stale = sorted(set(entries) - wanted)
    assert not missing, f"{locale}: missing {missing}"
    assert not untranslated, f"{locale}: untranslated {untranslated}"
    assert not stale, f"{locale}: no longer used {stale}"


@pytest.mark.parametrize("locale", LOCALES)
def test_placeholders_match(locale: str) -> None:
    for msgid, msgstr in catalog(locale).items():
        assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(msgstr)), (locale, msgid)


def test_russian_is_really_translated() -> None:
    entries = catalog("ru")
    same = [msgid for msgid, msgstr in entries.items() if msgid == msgstr]
    assert not same, f"copied instead of translated: {same}"
