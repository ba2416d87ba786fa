"""Typed application keys: everything a handler needs is reached through these, never through globals."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path

from aiohttp import web

from core.container import Container
from core.signing import SigningClient

# RFC 6265 cookie-name token characters.
_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}")


@dataclass(frozen=True, slots=True)
class TelegramWebConfig:
    """The Login Widget's cookie and where its sign-in redirects a browser."""

    cookie_name: str = "unibot_access"
    redirect_url: str = "/"
    secure_cookies: bool = True

    def __post_init__(self) -> None:
        if not _COOKIE_NAME.fullmatch(self.cookie_name):
            raise ValueError(f"cookie name {self.cookie_name!r} is not a valid cookie token")
        # A configured target only, never one from the request; still refuse values a browser would read oddly.
        url = self.redirect_url
        if not (url.startswith("/") and not url.startswith("//")) and not re.match(r"https?://[^\s/]", url):
            raise ValueError(f"redirect URL {url!r} must be a path starting with '/' or an http(s) URL")
        if any(ch in url for ch in "\r\n\\ "):
            raise ValueError("redirect URL must not contain spaces, backslashes or line breaks")


@dataclass(frozen=True, slots=True)
class WebConfig:
    version: str
    mode: str
    max_body_bytes: int
    trusted_proxies: tuple[str, ...] = ()
    telegram: TelegramWebConfig = field(default_factory=TelegramWebConfig)
    # The outside bots allowed to call the signed service routes, and how far their clocks may drift.
    signing_clients: dict[str, SigningClient] = field(default_factory=dict)
    signing_window: int = 300
    # The catalogs human text in answers is translated with (the bot's), and the languages offered.
    locales: Path = Path("locales")
    languages: tuple[str, ...] = ("en", "ru")
    default_language: str = "en"


CONTAINER = web.AppKey("container", Container)
TRUSTED_PROXIES = web.AppKey("trusted_proxies", tuple[IPv4Network | IPv6Network, ...])
CONFIG = web.AppKey("config", WebConfig)
