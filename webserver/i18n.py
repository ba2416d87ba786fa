"""Human text in REST answers in the caller's language: `Accept-Language` first, else the signed-in user's saved
language, else the default. The texts come from the same catalogs as the bot's; `error_code` never changes."""

from __future__ import annotations

import gettext
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web


def N_(text: str) -> str:
    """Marks a text for the catalogs where it is defined; it is translated where it is shown."""
    return text


@dataclass
class Translations:
    path: Path
    languages: tuple[str, ...]
    default: str
    _catalogs: dict[str, gettext.NullTranslations] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for language in self.languages:
            self._catalogs[language] = gettext.translation(
                "messages", localedir=self.path, languages=[language], fallback=True
            )

    def gettext(self, text: str, language: str) -> str:
        catalog = self._catalogs.get(language)
        return catalog.gettext(text) if catalog is not None else text

    def pick(self, accept_language: str | None, saved: str | None) -> str:
        """The first supported language the client accepts, else the saved one, else the default."""
        for tag in _accepted(accept_language or ""):
            primary = tag.split("-", 1)[0]
            if primary in self._catalogs:
                return primary
        if saved in self._catalogs:
            return saved
        return self.default


def _accepted(header: str) -> list[str]:
    """Language tags of an Accept-Language header, best first; q=0 means "not this one"."""
    weighted: list[tuple[float, int, str]] = []
    for index, item in enumerate(header.split(",")[:20]):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and quality > 0:
            weighted.append((-quality, index, tag.strip().lower()))
    return [tag for _, _, tag in sorted(weighted)]


TRANSLATIONS = web.AppKey("translations", Translations)
