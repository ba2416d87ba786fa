"""Small HTTP helpers shared by the route modules (which never import each other)."""

from __future__ import annotations

from aiohttp import web

from core.auth.service import ClientInfo
from webserver.security import request_ip

# Tokens in an answer must not stay in a browser's or a proxy's cache.
NO_STORE = {"Cache-Control": "no-store"}


def client_info(request: web.Request) -> ClientInfo:
    return ClientInfo(ip=request_ip(request), user_agent=request.headers.get("User-Agent"))
