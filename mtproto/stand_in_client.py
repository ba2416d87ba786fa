"""`TelegramProfilesPort` for local mode: the embedded Telegram stand-in's client API over HTTP.

The stand-in's users act as Telegram accounts (docs/fake-telegram.md, "Accounts"): a login code arrives in the
account's chat with Telegram's service account 777000, an account may have a cloud password, and dialogs, unread
counts and sending work on the stand-in's account-to-account chats. Its errors carry Telegram's RPC error names and
are mapped to the port's errors the way the Telethon adapter maps Telethon's.

The session text is the stand-in's session key; like Telegram, the stand-in binds a sent code to the key that asked
for it, so a pending login continues on any replica and after a restart.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from core.errors import DomainError
from core.profiles import port
from core.profiles.port import (
    Dialog,
    DialogCursor,
    DialogPage,
    Message,
    PendingLogin,
    Recipient,
    SentMessage,
    SessionData,
    SignedIn,
    TelegramAccount,
    UnreadDialog,
)

log = logging.getLogger(__name__)

_FLOOD = re.compile(r"(?:FLOOD|SLOWMODE)_WAIT_(\d+)")
_MAX_DIALOG_PAGE = 100


class StandInProfiles:
    """The port over the stand-in's `/client-api/`. `bind(base_url)` once the stand-in listens."""

    def __init__(self, base_url: str | None = None, *, timeout: float = 10.0, flood_sleep_threshold: int = 10) -> None:
        self._base_url = base_url.rstrip("/") if base_url else None
        self._timeout = timeout
        self._flood_sleep_threshold = flood_sleep_threshold

    def bind(self, base_url: str) -> None:
        self._base_url = base_url.rstrip("/")

    # --- login -----------------------------------------------------------------------------------------------------

    async def start_login(self, phone: str) -> PendingLogin:
        result = await self._call("auth.sendCode", {"phone": phone})
        return PendingLogin(
            phone=phone,
            phone_code_hash=str(result["phone_code_hash"]),
            session=SessionData(str(result["session"])),
            delivery=str(result.get("type", "app")),
        )

    async def submit_code(self, pending: PendingLogin, code: str) -> SignedIn:
        payload = {
            "session": pending.session.text,
            "phone": pending.phone,
            "phone_code_hash": pending.phone_code_hash,
            "code": code,
        }
        result = await self._call("auth.signIn", payload)
        return SignedIn(_account(result["user"]), pending.session)

    async def submit_password(self, pending: PendingLogin, password: str) -> SignedIn:
        result = await self._call("auth.checkPassword", {"session": pending.session.text, "password": password})
        return SignedIn(_account(result["user"]), pending.session)

    # --- a signed-in profile ---------------------------------------------------------------------------------------

    async def me(self, session: SessionData) -> TelegramAccount:
        return _account((await self._call("users.getMe", {"session": session.text}))["user"])

    async def dialogs(self, session: SessionData, *, limit: int, cursor: DialogCursor | None = None) -> DialogPage:
        """The stand-in pages by position: the cursor's `skip` is the offset of the next page."""
        limit = max(1, min(limit, _MAX_DIALOG_PAGE))
        offset = cursor.skip if cursor is not None else 0
        result = await self._call("messages.getDialogs", {"session": session.text, "offset": offset, "limit": limit})
        dialogs = tuple(_dialog(item) for item in result["dialogs"])
        more = offset + len(dialogs) < int(result["count"])
        next_cursor = DialogCursor(None, 0, 0, skip=offset + len(dialogs)) if more else None
        return DialogPage(dialogs, next_cursor)

    async def unread(self, session: SessionData, *, max_dialogs: int, per_dialog: int) -> tuple[UnreadDialog, ...]:
        payload = {"session": session.text, "max_dialogs": max_dialogs, "per_dialog": per_dialog}
        result = await self._call("messages.getUnread", payload)
        found = []
        for item in result["unread"]:
            dialog = _dialog(item["dialog"])
            found.append(UnreadDialog(dialog, tuple(_message(m, dialog.id) for m in item["messages"])))
        return tuple(found)

    async def send(self, session: SessionData, to: Recipient, text: str) -> SentMessage:
        result = await self._call("messages.sendMessage", {"session": session.text, "to": to, "text": text})
        return SentMessage(id=int(result["id"]), dialog_id=int(result["dialog_id"]), date=_date(result["date"]))

    async def log_out(self, session: SessionData) -> None:
        try:
            await self._call("auth.logOut", {"session": session.text})
        except port.SessionRevoked:
            return

    # --- internals -------------------------------------------------------------------------------------------------

    async def _call(self, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        """One call; a flood wait up to the threshold is slept and the call repeated once, as Telethon does."""
        try:
            return await self._call_once(method, payload)
        except port.FloodWait as exc:
            if exc.seconds > self._flood_sleep_threshold:
                raise
            await asyncio.sleep(exc.seconds)
        return await self._call_once(method, payload)

    async def _call_once(self, method: str, payload: dict[str, Any]) -> dict[str, Any]:
        if self._base_url is None:
            raise port.TelegramUnavailable()
        try:
            async with asyncio.timeout(self._timeout):
                body = await _post_json(f"{self._base_url}/client-api/{method}", payload)
        except (OSError, TimeoutError, ValueError):
            log.warning("the Telegram stand-in is unreachable", extra={"method": method})
            raise port.TelegramUnavailable() from None
        if not isinstance(body, dict):
            raise port.TelegramUnavailable()
        if body.get("ok") is True and isinstance(body.get("result"), dict):
            result: dict[str, Any] = body["result"]
            return result
        raise _translated(str(body.get("description", "")), body.get("hint"))


async def _post_json(url: str, payload: dict[str, Any]) -> Any:
    """A minimal HTTP/1.1 POST of JSON over asyncio streams (the stand-in is plain HTTP on this machine; the
    MTProto face uses no HTTP client library of the faces)."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError("the stand-in's address must be http://host:port")
    body = json.dumps(payload).encode()
    host = parts.hostname
    port_number = parts.port or 80
    reader, writer = await asyncio.open_connection(host, port_number)
    try:
        head = (
            f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        writer.write(head.encode() + body)
        await writer.drain()
        raw = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    _, separator, content = raw.partition(b"\r\n\r\n")
    if not separator:
        raise ValueError("no HTTP answer")
    return json.loads(content)


def _translated(name: str, hint: Any = None) -> DomainError:
    """Telegram's RPC error name -> the port's error (the same table as the Telethon adapter's)."""
    flood = _FLOOD.fullmatch(name)
    if flood is not None:
        return port.FloodWait(int(flood.group(1)))
    simple: dict[str, DomainError] = {
        "PHONE_NUMBER_INVALID": port.InvalidPhone(),
        "PHONE_NUMBER_BANNED": port.PhoneNotUsable("banned"),
        "PHONE_NUMBER_UNOCCUPIED": port.PhoneNotUsable("unregistered"),
        "PHONE_NUMBER_FLOOD": port.TooManyAttempts(),
        "PHONE_PASSWORD_FLOOD": port.TooManyAttempts(),
        "PEER_FLOOD": port.TooManyAttempts(),
        "PHONE_CODE_INVALID": port.WrongCode(),
        "PHONE_CODE_EMPTY": port.WrongCode(),
        "PHONE_CODE_EXPIRED": port.CodeExpired(),
        "PHONE_CODE_HASH_EMPTY": port.CodeExpired(),
        "SESSION_PASSWORD_NEEDED": port.PasswordNeeded(hint if isinstance(hint, str) and hint else None),
        "PASSWORD_HASH_INVALID": port.WrongPassword(),
        "PASSWORD_EMPTY": port.WrongPassword(),
        "SESSION_REVOKED": port.SessionRevoked("revoked"),
        "SESSION_EXPIRED": port.SessionRevoked("revoked"),
        "AUTH_KEY_UNREGISTERED": port.SessionRevoked("unregistered"),
        "USER_DEACTIVATED": port.SessionRevoked("deactivated"),
        "AUTH_KEY_DUPLICATED": port.SessionRevoked("duplicated"),
        "USER_IS_BLOCKED": port.CannotWrite(),
        "CHAT_WRITE_FORBIDDEN": port.CannotWrite(),
        "USERNAME_NOT_OCCUPIED": port.PeerNotFound(),
        "USERNAME_INVALID": port.PeerNotFound(),
        "PEER_ID_INVALID": port.PeerNotFound(),
        "MESSAGE_EMPTY": port.InvalidMessage("empty"),
        "MESSAGE_TOO_LONG": port.InvalidMessage("too_long"),
    }
    error = simple.get(name)
    if error is not None:
        return error
    log.error("the Telegram stand-in refused a request: %s", name)
    return port.TelegramRefused(name or "UNKNOWN")


def _date(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value), UTC)


def _account(user: dict[str, Any]) -> TelegramAccount:
    return TelegramAccount(
        telegram_id=int(user["id"]),
        first_name=user.get("first_name"),
        last_name=user.get("last_name"),
        username=user.get("username"),
        phone=user.get("phone"),
    )


def _dialog(item: dict[str, Any]) -> Dialog:
    return Dialog(
        id=int(item["id"]),
        kind=str(item.get("kind", "user")),
        title=str(item.get("title", "")),
        username=item.get("username"),
        unread_count=int(item.get("unread_count", 0)),
        last_message_at=_date(item["last_message_at"]) if item.get("last_message_at") else None,
        pinned=False,
        archived=False,
    )


def _message(item: dict[str, Any], dialog_id: int) -> Message:
    return Message(
        id=int(item["id"]),
        dialog_id=dialog_id,
        sender_id=int(item["from_id"]),
        date=_date(item["date"]),
        text=str(item.get("text", "")),
        outgoing=False,
        media=None,
    )
