"""Typed application keys: everything a handler needs is reached through these, never through globals."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network

from aiohttp import web

from core.clock import Clock
from core.services import ServiceFactory


@dataclass(frozen=True, slots=True)
class WebConfig:
    version: str
    mode: str
    max_body_bytes: int
    trusted_proxies: tuple[str, ...] = ()


SERVICES = web.AppKey("services", ServiceFactory)
TRUSTED_PROXIES = web.AppKey("trusted_proxies", tuple[IPv4Network | IPv6Network, ...])
CONFIG = web.AppKey("config", WebConfig)
CLOCK = web.AppKey("clock", Clock)
