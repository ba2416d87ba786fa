"""`TelegramProfilesPort` over Telethon 1.x: one short-lived TelegramClient per call, built from a StringSession.

Why a login can be continued by a new client, in another process (checked in Telethon 1.45's source):

* `StringSession.save()` (telethon/sessions/string.py) packs the DC id, the server address and port and the
  256-byte auth key, and `StringSession(text)` restores exactly those. Telegram binds a sent login code to the auth
  key that asked for it; the key is created during `connect()` (`_auth_key_callback` puts it on the session) and,
  when Telegram answers PHONE_MIGRATE, `_switch_dc` moves the session to the new DC with a new key before
  `send_code_request` returns. Saving the session after `send_code_request` therefore keeps the key and DC the code
  is bound to.
* `send_code_request` (telethon/client/auth.py) keeps the hash only on the client object: `self._phone_code_hash`
  (a dict phone -> hash) and `self._phone`. `sign_in(phone, code, phone_code_hash=...)` goes through
  `_parse_phone_and_hash`, which uses the given phone and hash and reads that dict only when no hash is passed.
  So a new client built from the saved session, given the phone and the saved hash, sends the same
  `auth.signIn(phone, hash, code)` on the same key, and nothing of the first client object is needed.
* The cloud password step (`sign_in(password=...)`) sends `account.getPassword` and `auth.checkPassword` on the
  session's key alone; a code step that raised SESSION_PASSWORD_NEEDED leaves the key unchanged, so the same
  pending state continues it.

Flood waits: Telethon sleeps through FLOOD_WAIT answers of at most `flood_sleep_threshold` seconds and retries;
longer ones reach us as FloodWaitError (or its siblings) and become `FloodWait` with the seconds Telegram asked for.
Telegram's internal errors (500, RPC_CALL_FAIL, timeouts) are retried by Telethon with 2 s pauses,
`request_retries + 1` attempts in all, before they become `TelegramUnavailable`.

Cost of a short-lived client: `connect()` of a signed-in session also sends users.getUsers(self), updates.getState
and updates.getDifference (TelegramBaseClient.connect -> get_me -> _on_login) before the call's own request.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, NoReturn, Protocol

from telethon import TelegramClient, errors
from telethon.sessions import StringSession
from telethon.tl import functions, types

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

_MAX_DIALOG_PAGE = 100


class TelethonClientLike(Protocol):
    """The part of `telethon.TelegramClient` this adapter uses; tests give a fake with the same methods."""

    session: Any

    async def __call__(self, request: Any) -> Any: ...

    async def connect(self) -> None: ...

    def disconnect(self) -> Any: ...

    async def send_code_request(self, phone: str) -> Any: ...

    async def sign_in(
        self,
        phone: str | None = None,
        code: str | None = None,
        *,
        password: str | None = None,
        phone_code_hash: str | None = None,
    ) -> Any: ...

    async def get_me(self) -> Any: ...

    def iter_dialogs(
        self,
        limit: int | None = None,
        *,
        offset_date: datetime | None = None,
        offset_id: int = 0,
        ignore_pinned: bool = False,
    ) -> Any: ...

    async def get_messages(self, entity: Any, limit: int) -> Any: ...

    async def get_input_entity(self, peer: Any) -> Any: ...

    async def send_message(self, entity: Any, message: str, *, parse_mode: Any = ...) -> Any: ...

    async def log_out(self) -> bool: ...


# (session text, flood_sleep_threshold) -> a client that has not connected yet.
ClientFactory = Callable[[str, int], TelethonClientLike]


def telethon_client_factory(
    api_id: int,
    api_hash: str,
    *,
    timeout: int = 10,
    request_retries: int = 3,
    connection_retries: int = 3,
    client_class: Callable[..., Any] = TelegramClient,
) -> ClientFactory:
    """TelegramClients on a StringSession; constructing one does not touch the network.

    `client_class` is TelegramClient itself except in tests, which give a subclass whose network is a fake server.
    """

    def build(session_text: str, flood_sleep_threshold: int) -> TelethonClientLike:
        client: TelethonClientLike = client_class(
            StringSession(session_text),
            api_id,
            api_hash,
            timeout=timeout,
            request_retries=request_retries,
            connection_retries=connection_retries,
            flood_sleep_threshold=flood_sleep_threshold,
            # Raise Telegram's own last error after the retries instead of a bare ValueError.
            raise_last_call_error=True,
            # Each client lives for one call; it has no use for updates.
            receive_updates=False,
        )
        return client

    return build


class TelethonProfiles:
    """Telegram profile operations with Telethon; every failure comes out as an error of `core.profiles.port`."""

    def __init__(
        self,
        client_factory: ClientFactory,
        *,
        flood_sleep_threshold: int = 10,
        peer_lookup_dialogs: int = 200,
    ) -> None:
        self._factory = client_factory
        self._flood_sleep_threshold = flood_sleep_threshold
        # A fresh client knows no access hashes; this many dialogs are read to learn them when a numeric id is new.
        self._peer_lookup_dialogs = peer_lookup_dialogs
        # Telegram may invalidate a key used by several connections at once (AUTH_KEY_DUPLICATED), so calls on one
        # session take turns in this process. Keyed by a digest: the session text itself is a credential.
        self._turns: weakref.WeakValueDictionary[bytes, asyncio.Lock] = weakref.WeakValueDictionary()

    # --- login ---------------------------------------------------------------------------------------------------

    async def start_login(self, phone: str) -> PendingLogin:
        async with self._client("") as client:
            sent = await client.send_code_request(phone)
            if isinstance(sent, types.auth.SentCodePaymentRequired):
                raise port.PhoneNotUsable("payment_required")
            code_hash = getattr(sent, "phone_code_hash", None)
            if not code_hash:
                # Telethon keeps no hash when Telegram sends an empty one; without it the code cannot be used.
                raise port.TelegramUnavailable()
            return PendingLogin(
                phone=phone,
                phone_code_hash=code_hash,
                session=SessionData(client.session.save()),
                delivery=_kind(sent.type, ("SentCodeType",)),
                next_delivery=_kind(sent.next_type, ("CodeType",)) if sent.next_type is not None else None,
                timeout=sent.timeout,
            )

    async def submit_code(self, pending: PendingLogin, code: str) -> SignedIn:
        async with self._client(pending.session.text) as client:
            try:
                user = await client.sign_in(pending.phone, code, phone_code_hash=pending.phone_code_hash)
            except errors.SessionPasswordNeededError:
                raise port.PasswordNeeded(hint=await _password_hint(client)) from None
            return SignedIn(_account(user), SessionData(client.session.save()))

    async def submit_password(self, pending: PendingLogin, password: str) -> SignedIn:
        async with self._client(pending.session.text) as client:
            user = await client.sign_in(password=password)
            return SignedIn(_account(user), SessionData(client.session.save()))

    # --- a signed-in profile ---------------------------------------------------------------------------------------

    async def me(self, session: SessionData) -> TelegramAccount:
        async with self._client(session.text) as client:
            user = await client.get_me()
            if user is None:
                # get_me answers None for every 401, without saying which one.
                raise port.SessionRevoked("unauthorized")
            return _account(user)

    async def dialogs(self, session: SessionData, *, limit: int, cursor: DialogCursor | None = None) -> DialogPage:
        """Pages are anchored on the last non-pinned dialog with a message, as Telegram's offsets require.

        Pinned dialogs come first on the first page and are excluded (`ignore_pinned`) once a page is anchored;
        `skip` counts dialogs already shown after the anchor, so no dialog is shown twice or skipped. A dialog whose
        newest message Telegram does not return has no date, so it is shown only by pages read from the top.
        """
        limit = max(1, min(limit, _MAX_DIALOG_PAGE))
        start = cursor or DialogCursor(offset_date=None, offset_id=0, offset_peer_id=0, skip=0)
        anchored = start.offset_date is not None
        async with self._client(session.text) as client:
            found = []
            # +1 for the anchor, which Telethon may return again, +1 to learn whether another page exists.
            async for item in client.iter_dialogs(
                start.skip + limit + 2, offset_date=start.offset_date, offset_id=start.offset_id, ignore_pinned=anchored
            ):
                if anchored and item.id == start.offset_peer_id:
                    continue
                found.append(item)
        rest = found[start.skip :]
        page, beyond = rest[:limit], rest[limit:]
        next_cursor = _next_cursor(start, page) if beyond else None
        if next_cursor is not None and next_cursor.offset_date is not None and all(i.date is None for i in beyond):
            next_cursor = None  # what is left has no message, and a listing from an anchor would not show it
        return DialogPage(tuple(_dialog(item) for item in page), next_cursor)

    async def unread(self, session: SessionData, *, max_dialogs: int, per_dialog: int) -> tuple[UnreadDialog, ...]:
        """Reading does not mark anything read: the messages stay unread for the account's own apps."""
        result = []
        async with self._client(session.text) as client:
            async for item in client.iter_dialogs(max_dialogs):
                if item.unread_count <= 0:
                    continue
                # Telegram marks a chat read when the account writes in it, so the newest messages are the unread ones.
                messages = await client.get_messages(item.input_entity, limit=min(item.unread_count, per_dialog))
                result.append(UnreadDialog(_dialog(item), tuple(_message(m, item.id) for m in messages)))
        return tuple(result)

    async def send(self, session: SessionData, to: Recipient, text: str) -> SentMessage:
        async with self._client(session.text) as client:
            peer = await self._resolve(client, to)
            # parse_mode=None: the text is sent as written, not read as Markdown.
            sent = await client.send_message(peer, text, parse_mode=None)
            return SentMessage(id=sent.id, dialog_id=sent.chat_id, date=sent.date)

    async def log_out(self, session: SessionData) -> None:
        try:
            async with self._client(session.text) as client:
                # False when Telegram refused, i.e. the session was already dead: logged out either way.
                await client.log_out()
        except port.SessionRevoked:
            return

    # --- internals -------------------------------------------------------------------------------------------------

    @asynccontextmanager
    async def _client(self, session_text: str) -> AsyncIterator[TelethonClientLike]:
        """A connected client for one call; Telethon's failures leave it as port errors."""
        if not session_text:
            # A new login: a new key, shared with nobody.
            async with self._connected(session_text) as client:
                yield client
            return
        digest = hashlib.sha256(session_text.encode()).digest()
        turn = self._turns.get(digest)
        if turn is None:
            turn = self._turns[digest] = asyncio.Lock()
        async with turn, self._connected(session_text) as client:
            yield client

    @asynccontextmanager
    async def _connected(self, session_text: str) -> AsyncIterator[TelethonClientLike]:
        client = self._factory(session_text, self._flood_sleep_threshold)
        try:
            await client.connect()
            yield client
        except DomainError:
            raise
        except Exception as exc:
            _raise_translated(exc)
        finally:
            await client.disconnect()

    async def _resolve(self, client: TelethonClientLike, to: Recipient) -> Any:
        try:
            return await client.get_input_entity(to)
        except (ValueError, errors.UsernameNotOccupiedError, errors.UsernameInvalidError, errors.PeerIdInvalidError):
            if isinstance(to, str):
                raise port.PeerNotFound() from None
        # Reading dialogs caches their access hashes on this client, after which the id resolves offline.
        async for _ in client.iter_dialogs(self._peer_lookup_dialogs):
            pass
        try:
            return await client.get_input_entity(to)
        except (ValueError, errors.PeerIdInvalidError):
            raise port.PeerNotFound() from None


async def _password_hint(client: TelethonClientLike) -> str | None:
    """The hint the owner gave their cloud password, which Telegram shows at this step; None if it cannot be read."""
    try:
        password = await client(functions.account.GetPasswordRequest())
    except (errors.RPCError, OSError):
        return None
    hint = getattr(password, "hint", None)
    return hint if isinstance(hint, str) and hint else None


def _next_cursor(start: DialogCursor, page: list[Any]) -> DialogCursor:
    for index in range(len(page) - 1, -1, -1):
        item = page[index]
        if not item.pinned and item.date is not None and item.message is not None:
            # Listing from an anchor drops dialogs without a message (Telethon filters on their date), so only
            # the dated ones shown after the anchor come back and must be skipped.
            shown_after = sum(1 for later in page[index + 1 :] if later.date is not None)
            return DialogCursor(
                offset_date=item.date, offset_id=item.message.id, offset_peer_id=item.id, skip=shown_after
            )
    # Nothing on this page can anchor the next one: keep the old anchor and skip past what was shown.
    return DialogCursor(
        offset_date=start.offset_date,
        offset_id=start.offset_id,
        offset_peer_id=start.offset_peer_id,
        skip=start.skip + len(page),
    )


# --- Telethon objects -> port values ---------------------------------------------------------------------------


def _account(user: Any) -> TelegramAccount:
    return TelegramAccount(
        telegram_id=user.id,
        first_name=user.first_name,
        last_name=user.last_name,
        username=user.username,
        phone=user.phone,
    )


def _dialog(item: Any) -> Dialog:
    entity = item.entity
    if item.is_user:
        kind = "bot" if getattr(entity, "bot", False) else "user"
    elif item.is_group:
        kind = "group"
    else:
        kind = "channel"
    return Dialog(
        id=item.id,
        kind=kind,
        title=item.name or "",
        username=getattr(entity, "username", None),
        unread_count=item.unread_count,
        last_message_at=item.date,
        pinned=bool(item.pinned),
        archived=bool(item.archived),
    )


def _message(message: Any, dialog_id: int) -> Message:
    media = getattr(message, "media", None)
    return Message(
        id=message.id,
        dialog_id=dialog_id,
        sender_id=getattr(message, "sender_id", None),
        date=message.date,
        # `message` is the raw text (or caption); service messages have none.
        text=getattr(message, "message", None) or "",
        outgoing=bool(message.out),
        media=_kind(media, ("MessageMedia",)) if media is not None else None,
    )


def _kind(tl_object: Any, prefixes: tuple[str, ...]) -> str:
    """A TL constructor's name as a plain word: SentCodeTypeFlashCall -> "flash_call"."""
    name = type(tl_object).__name__
    for prefix in prefixes:
        name = name.removeprefix(prefix)
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# --- Telethon errors -> port errors ------------------------------------------------------------------------------

_SESSION_DEAD: tuple[tuple[type[Exception], str], ...] = (
    (errors.SessionRevokedError, "revoked"),
    (errors.SessionExpiredError, "revoked"),
    (errors.AuthKeyUnregisteredError, "unregistered"),
    (errors.UserDeactivatedError, "deactivated"),
    (errors.UserDeactivatedBanError, "deactivated"),
    (errors.AuthKeyDuplicatedError, "duplicated"),
)

_CANNOT_WRITE = (
    errors.ChatWriteForbiddenError,
    errors.ChatSendPlainForbiddenError,
    errors.ChatGuestSendForbiddenError,
    errors.ChatRestrictedError,
    errors.UserBannedInChannelError,
    errors.UserIsBlockedError,
    errors.YouBlockedUserError,
    errors.UserPrivacyRestrictedError,
)

_PEER_UNKNOWN = (
    errors.UsernameNotOccupiedError,
    errors.UsernameInvalidError,
    errors.PeerIdInvalidError,
    errors.ChannelInvalidError,
    errors.ChannelPrivateError,
    errors.InputUserDeactivatedError,
)


def _raise_translated(exc: Exception) -> NoReturn:
    """Raise the port error for a Telethon failure. Messages are the port's own: Telethon's may quote inputs."""
    name = type(exc).__name__
    if isinstance(exc, errors.FloodError) and isinstance(getattr(exc, "seconds", None), int):
        raise port.FloodWait(exc.seconds) from None
    if isinstance(exc, errors.PhoneNumberInvalidError):
        raise port.InvalidPhone() from None
    if isinstance(exc, errors.PhoneNumberBannedError):
        raise port.PhoneNotUsable("banned") from None
    if isinstance(exc, errors.PhoneNumberUnoccupiedError):
        raise port.PhoneNotUsable("unregistered") from None
    if isinstance(exc, (errors.PhoneNumberFloodError, errors.PhonePasswordFloodError, errors.PeerFloodError)):
        raise port.TooManyAttempts() from None
    if isinstance(exc, (errors.PhoneCodeInvalidError, errors.PhoneCodeEmptyError)):
        raise port.WrongCode() from None
    if isinstance(exc, (errors.PhoneCodeExpiredError, errors.PhoneCodeHashEmptyError)):
        raise port.CodeExpired() from None
    if isinstance(exc, errors.SessionPasswordNeededError):
        raise port.PasswordNeeded() from None
    if isinstance(exc, (errors.PasswordHashInvalidError, errors.PasswordEmptyError)):
        raise port.WrongPassword() from None
    for error_class, reason in _SESSION_DEAD:
        if isinstance(exc, error_class):
            raise port.SessionRevoked(reason) from None
    if isinstance(exc, errors.UnauthorizedError):
        raise port.SessionRevoked("unauthorized") from None
    if isinstance(exc, _CANNOT_WRITE):
        raise port.CannotWrite() from None
    if isinstance(exc, _PEER_UNKNOWN):
        raise port.PeerNotFound() from None
    if isinstance(exc, errors.MessageEmptyError):
        raise port.InvalidMessage("empty") from None
    if isinstance(exc, errors.MessageTooLongError):
        raise port.InvalidMessage("too_long") from None
    if isinstance(exc, (errors.ServerError, errors.TimedOutError, OSError)):
        log.warning("Telegram unreachable: %s", name)
        raise port.TelegramUnavailable() from None
    if isinstance(exc, errors.RPCError):
        # The class name is Telegram's error code (never an input); enough to see what to map next.
        log.error("Telegram refused a request: %s", name)
        raise port.TelegramRefused(name) from None
    raise exc
