"""Async client for the fake's user-side API: act as a Telegram user in tests and scripts."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from types import TracebackType
from typing import Any, NotRequired, Self, TypedDict

import aiohttp

# The server caps one long poll at 30 s; longer waits are split into several polls.
_MAX_SERVER_WAIT = 30.0


class FakeUser(TypedDict):
    id: int
    first_name: str
    last_name: NotRequired[str]
    username: NotRequired[str]
    language_code: NotRequired[str]


class UserApiError(Exception):
    """The fake rejected a user-side request."""

    def __init__(self, status: int, error_code: str, detail: str) -> None:
        super().__init__(f"{status} {error_code}: {detail}")
        self.status = status
        self.error_code = error_code
        self.detail = detail


class UserClient:
    """Talks to one bot as any number of users. Use as `async with UserClient(url, bot_id) as client:`."""

    def __init__(self, base_url: str, bot_id: int) -> None:
        self.base_url = base_url.rstrip("/")
        self.bot_id = bot_id
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _bot_path(self, tail: str) -> str:
        return f"{self.base_url}/user-api/bots/{self.bot_id}/{tail}"

    async def _request(
        self,
        method: str,
        url: str,
        *,
        json: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        request_timeout: float = 10.0,
    ) -> dict[str, Any]:
        if self._session is None:
            raise RuntimeError("UserClient is not open; use it as an async context manager")
        async with self._session.request(
            method, url, json=json, params=params, timeout=aiohttp.ClientTimeout(total=request_timeout)
        ) as response:
            body = await response.json(content_type=None)
            if response.status >= 400:
                detail = body.get("detail", "") if isinstance(body, dict) else str(body)
                code = body.get("error_code", "") if isinstance(body, dict) else ""
                raise UserApiError(response.status, str(code), str(detail))
            if not isinstance(body, dict):
                raise UserApiError(response.status, "bad_response", f"expected a JSON object, got {body!r}")
            return body

    async def send_text(self, user: FakeUser | Mapping[str, Any], text: str) -> dict[str, Any]:
        """Send a private message to the bot; returns {"update_id", "message_id"}."""
        return await self._request("POST", self._bot_path("messages"), json={"user": dict(user), "text": text})

    async def press(self, user: FakeUser | Mapping[str, Any], message_id: int, data: str) -> dict[str, Any]:
        """Press an inline button of a bot message; returns {"update_id", "callback_query_id"}."""
        payload = {"user": dict(user), "message_id": message_id, "data": data}
        return await self._request("POST", self._bot_path("callbacks"), json=payload)

    async def messages(self, chat_id: int, after_id: int = 0, *, wait: float = 0) -> list[dict[str, Any]]:
        params = {"after_id": str(after_id), "wait": str(min(wait, _MAX_SERVER_WAIT))}
        body = await self._request(
            "GET", self._bot_path(f"chats/{chat_id}/messages"), params=params, request_timeout=wait + 10.0
        )
        result: list[dict[str, Any]] = body["messages"]
        return result

    async def wait_for_bot_message(
        self,
        chat_id: int,
        after_id: int = 0,
        timeout: float = 10.0,  # noqa: ASYNC109 - the server does the waiting, in slices
    ) -> dict[str, Any]:
        """The first bot message in the chat with an id above after_id, waiting up to timeout seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seen: list[dict[str, Any]] = []
        while True:
            remaining = deadline - loop.time()
            seen = await self.messages(chat_id, after_id, wait=max(remaining, 0))
            for message in seen:
                if message["from_bot"]:
                    return message
            if deadline - loop.time() <= 0:
                break
        recent = [(m["message_id"], "bot" if m["from_bot"] else "user", m["text"][:60]) for m in seen[-5:]]
        raise TimeoutError(
            f"bot {self.bot_id} sent no message to chat {chat_id} after message {after_id} within "
            f"{timeout:g}s; messages since then: {recent or 'none'}. Is the bot running and pointed at "
            f"{self.base_url}?"
        )

    async def callback_answers(
        self, callback_query_id: str | None = None, *, wait: float = 0
    ) -> list[dict[str, Any]]:
        params = {"wait": str(min(wait, _MAX_SERVER_WAIT))}
        if callback_query_id is not None:
            params["callback_query_id"] = callback_query_id
        body = await self._request(
            "GET", self._bot_path("callback-answers"), params=params, request_timeout=wait + 10.0
        )
        result: list[dict[str, Any]] = body["answers"]
        return result

    async def redeliver(self, update_id: int) -> dict[str, Any]:
        """Queue an already delivered update again, with the same update_id."""
        return await self._request("POST", self._bot_path("redeliver"), json={"update_id": update_id})

    async def state(self) -> dict[str, Any]:
        return await self._request("GET", self._bot_path("state"))

    async def calls(self) -> list[dict[str, Any]]:
        body = await self._request("GET", self._bot_path("calls"))
        result: list[dict[str, Any]] = body["calls"]
        return result

    async def bots(self) -> list[dict[str, Any]]:
        body = await self._request("GET", f"{self.base_url}/user-api/bots")
        result: list[dict[str, Any]] = body["bots"]
        return result

    # --- accounts: the stand-in's users as Telegram accounts ---------------------------------------------------

    async def add_account(
        self, user: FakeUser | Mapping[str, Any], phone: str, *, password: str | None = None, hint: str | None = None
    ) -> dict[str, Any]:
        """Make a stand-in user a Telegram account with a phone number (and a cloud password)."""
        payload: dict[str, Any] = {"user": dict(user), "phone": phone}
        if password is not None:
            payload["password"] = password
        if hint is not None:
            payload["hint"] = hint
        return await self._request("POST", f"{self.base_url}/user-api/accounts", json=payload)

    async def account_messages(self, user_id: int, peer_id: int) -> list[dict[str, Any]]:
        """The chat between two accounts (777000 is Telegram's service account, which sends login codes)."""
        body = await self._request("GET", f"{self.base_url}/user-api/accounts/{user_id}/chats/{peer_id}/messages")
        result: list[dict[str, Any]] = body["messages"]
        return result

    async def account_send(self, user_id: int, peer_id: int, text: str) -> dict[str, Any]:
        """Account `user_id` writes to account `peer_id`."""
        url = f"{self.base_url}/user-api/accounts/{user_id}/chats/{peer_id}/messages"
        return await self._request("POST", url, json={"text": text})

    async def revoke_sessions(self, user_id: int) -> int:
        """End every session of the account, as "terminate all sessions" does."""
        body = await self._request("POST", f"{self.base_url}/user-api/accounts/{user_id}/revoke")
        return int(body["revoked"])

    async def flood_next_call(self, user_id: int, seconds: int) -> None:
        """The account's next client call gets FLOOD_WAIT_<seconds>."""
        await self._request("POST", f"{self.base_url}/user-api/accounts/{user_id}/flood", json={"seconds": seconds})
