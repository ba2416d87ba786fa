"""Client for outside bots calling Unibot's signed service routes.

A single file on purpose: copy it into your bot. It needs aiohttp (and yarl, which aiohttp always
installs) and nothing from the Unibot code base; the signature scheme it implements is described in
docs/signed-calls.md.
"""

from __future__ import annotations

import hashlib
import hmac
import json as json_module
import re
import secrets
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
from yarl import URL

__all__ = ["UnibotServiceClient", "canonical_request", "sign_request"]

_SIGNING_HEADERS = frozenset({"x-client-id", "x-timestamp", "x-nonce", "x-signature"})
# Restricting the path to unreserved characters keeps it byte-for-byte what the server receives; anything
# else belongs in `params`, which are percent-encoded here.
_PATH_RE = re.compile(r"/[A-Za-z0-9/_.~-]*")


def canonical_request(method: str, path_with_query: str, timestamp: int, nonce: str, body: bytes) -> bytes:
    body_hash = hashlib.sha256(body).hexdigest()
    return f"{method.upper()}\n{path_with_query}\n{timestamp}\n{nonce}\n{body_hash}".encode()


def sign_request(secret: str, method: str, path_with_query: str, timestamp: int, nonce: str, body: bytes) -> str:
    message = canonical_request(method, path_with_query, timestamp, nonce, body)
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


class UnibotServiceClient:
    """Signs every request with the client's secret. Use as ``async with UnibotServiceClient(...) as c:``."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        secret: str,
        *,
        timeout: float = 15.0,
        session: aiohttp.ClientSession | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("base_url must be an http(s) URL")
        # The signature covers the path the server sees; a path prefix that a proxy strips or rewrites
        # would break it, so only scheme://host[:port] is accepted.
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("base_url must be scheme://host[:port] without a path or query")
        if not client_id or not secret:
            raise ValueError("client_id and secret are required")
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._client_id = client_id
        self._secret = secret
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = session
        self._owns_session = session is None
        self._clock = clock

    async def __aenter__(self) -> UnibotServiceClient:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None and self._owns_session:
            await self._session.close()
            self._session = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Any]:
        """Send a signed request; returns (HTTP status, decoded JSON body, or text, or None when empty)."""
        if self._session is None:
            raise RuntimeError("use `async with UnibotServiceClient(...)` before sending requests")
        if not _PATH_RE.fullmatch(path) or "/./" in f"{path}/" or "/../" in f"{path}/":
            raise ValueError("path must be '/' followed by unreserved characters, without dot segments")
        path_with_query = path
        if params:
            path_with_query += "?" + "&".join(
                f"{quote(str(key), safe='')}={quote(str(value), safe='')}" for key, value in params.items()
            )

        send_headers: dict[str, str] = {}
        for name, value in (headers or {}).items():
            if name.lower() in _SIGNING_HEADERS:
                raise ValueError(f"{name} is set by the client itself")
            send_headers[name] = value
        # Serialised once: the bytes signed are the bytes sent.
        body = b""
        if json is not None:
            body = json_module.dumps(json, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            send_headers["Content-Type"] = "application/json"

        method = method.upper()
        timestamp = int(self._clock())
        nonce = secrets.token_urlsafe(24)
        send_headers["X-Client-Id"] = self._client_id
        send_headers["X-Timestamp"] = str(timestamp)
        send_headers["X-Nonce"] = nonce
        send_headers["X-Signature"] = sign_request(self._secret, method, path_with_query, timestamp, nonce, body)

        # encoded=True: the URL goes out exactly as signed (yarl would otherwise re-quote it, e.g. turning
        # %2F in the query into '/').
        url = URL(self._origin + path_with_query, encoded=True)
        async with self._session.request(
            method, url, data=body, headers=send_headers, timeout=self._timeout
        ) as response:
            raw = await response.read()
            return response.status, _decode_body(raw)

    async def telegram_register(
        self,
        telegram_id: int,
        username: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        referred_by_id: int | None = None,
    ) -> tuple[int, Any]:
        return await self.request(
            "POST",
            "/api/v1/auth/register",
            json={
                "telegram_id": telegram_id,
                "username_tg": username,
                "first_name": first_name,
                "last_name": last_name,
                "referred_by_id": referred_by_id,
            },
        )

    async def token_get(self, chat_id: int) -> tuple[int, Any]:
        return await self.request("POST", "/api/v1/auth/token/get", json={"chat_id": chat_id})

    async def refresh_telegram(self, chat_id: int) -> tuple[int, Any]:
        return await self.request("POST", "/api/v1/auth/token/refresh-telegram", json={"chat_id": chat_id})

    async def telegram_start(self, chat_id: int) -> tuple[int, Any]:
        return await self.request("POST", "/api/v1/auth/telegram/start", json={"chat_id": chat_id})

    async def telegram_confirm(
        self,
        code: str,
        chat_id: int,
        user_bearer_token: str,
        username: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
    ) -> tuple[int, Any]:
        return await self.request(
            "POST",
            "/api/v1/auth/telegram/confirm",
            json={
                "code": code,
                "chat_id": chat_id,
                "username": username,
                "first_name": first_name,
                "last_name": last_name,
            },
            headers={"Authorization": f"Bearer {user_bearer_token}"},
        )


def _decode_body(raw: bytes) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        return json_module.loads(text)
    except ValueError:
        return text
