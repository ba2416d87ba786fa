"""A stand-in for Telethon's TelegramClient and for the Telegram servers behind it.

Telegram's MTProto servers cannot run here, so `FakeTelegram` keeps what the servers would (auth keys, sent codes,
accounts, dialogs) and `FakeTelethonClient` offers the TelegramClient methods the adapter calls, with Telethon's own
behaviour where it matters: sessions are real `StringSession`s (an auth key is made on first connect, as Telethon
does), the login hash is kept on the client object only (`_phone_code_hash`), flood waits up to the client's
`flood_sleep_threshold` are slept and longer ones raise `FloodWaitError`, failures are Telethon's real error classes,
and returned objects are Telethon's real TL types.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from telethon import errors, utils
from telethon.crypto import AuthKey
from telethon.sessions import StringSession
from telethon.tl import custom, functions, types

_EPOCH = datetime(2030, 1, 1, tzinfo=UTC)


@dataclass
class FakeAccount:
    user: types.User
    code: str = "12345"
    password: str | None = None
    password_hint: str | None = None


@dataclass
class FakeChat:
    entity: Any
    messages: list[types.Message] = field(default_factory=list)  # oldest first
    unread_count: int = 0
    pinned: bool = False

    @property
    def peer_id(self) -> int:
        peer_id: int = utils.get_peer_id(self.entity)
        return peer_id


class FakeTelegram:
    """The server side shared by every fake client: what Telegram would remember between connections."""

    def __init__(self) -> None:
        self.accounts: dict[str, FakeAccount] = {}
        self.chats: dict[int, list[FakeChat]] = {}  # user id -> their dialogs
        self.codes: dict[tuple[bytes, str], str] = {}  # (auth key, phone) -> phone_code_hash
        self.signed_in: dict[bytes, int] = {}  # auth key -> user id
        self.awaiting_password: dict[bytes, int] = {}
        self.dead_keys: dict[bytes, Exception] = {}
        # method name -> exception raised once by the next call of that method
        self.fail_next: dict[str, Exception] = {}
        # method name -> seconds of FLOOD_WAIT Telegram answers the next call with
        self.flood_next: dict[str, int] = {}
        self.unreachable = False
        self.open_connections: dict[bytes, int] = {}
        self.most_connections_per_key = 0
        self.most_connections = 0
        self.clients: list[FakeTelethonClient] = []
        self.sent: list[tuple[int, Any, str, Any]] = []  # (user id, input peer, text, parse_mode)

    def add_account(
        self, phone: str, user_id: int, *, password: str | None = None, username: str | None = None
    ) -> None:
        user = types.User(
            id=user_id, first_name=f"User{user_id}", last_name="Fake", username=username, phone=phone, access_hash=1
        )
        self.accounts[phone] = FakeAccount(user=user, password=password)
        self.chats[user_id] = []

    def add_chat(self, owner_id: int, entity: Any, *, messages: int, unread: int = 0, pinned: bool = False) -> FakeChat:
        """A dialog whose newest message is newer than every dialog added before it."""
        base = _EPOCH + timedelta(hours=len(self.chats[owner_id]))
        peer = utils.get_peer(entity)
        chat = FakeChat(entity=entity, unread_count=unread, pinned=pinned)
        for index in range(messages):
            chat.messages.append(
                types.Message(
                    id=len(chat.messages) + 1,
                    peer_id=peer,
                    date=base + timedelta(minutes=index),
                    message=f"message {index + 1} in {utils.get_display_name(entity)}",
                    out=False,
                    from_id=peer if isinstance(peer, types.PeerUser) else None,
                )
            )
        self.chats[owner_id].append(chat)
        return chat


class FakeTelethonClient:
    """The TelegramClient methods the adapter uses, answered from a FakeTelegram."""

    def __init__(self, telegram: FakeTelegram, session_text: str, flood_sleep_threshold: int) -> None:
        self.telegram = telegram
        self.session: Any = StringSession(session_text)
        self.flood_sleep_threshold = flood_sleep_threshold
        self._phone_code_hash: dict[str, str] = {}
        self._entities: dict[int, Any] = {}
        self.connected = False
        self.slept: list[int] = []
        self.calls: list[str] = []
        telegram.clients.append(self)

    # --- connection -----------------------------------------------------------------------------------------------

    async def connect(self) -> None:
        self.calls.append("connect")
        if self.telegram.unreachable:
            raise ConnectionError("Connection to Telegram failed 3 time(s)")
        if self.session.auth_key is None:
            # Telethon generates a key on first connect and stores it on the session (_auth_key_callback).
            self.session.set_dc(2, "149.154.167.51", 443)
            self.session.auth_key = AuthKey(os.urandom(256))
        self.connected = True
        open_now = self.telegram.open_connections.get(self._key, 0) + 1
        self.telegram.open_connections[self._key] = open_now
        self.telegram.most_connections_per_key = max(self.telegram.most_connections_per_key, open_now)
        self.telegram.most_connections = max(
            self.telegram.most_connections, sum(self.telegram.open_connections.values())
        )
        await asyncio.sleep(0)  # a real connect yields to the loop; concurrent calls overlap here

    async def disconnect(self) -> None:
        self.calls.append("disconnect")
        if self.connected:
            self.telegram.open_connections[self._key] -= 1
        self.connected = False

    # --- helpers: Telegram's answers -------------------------------------------------------------------------------

    def _request(self, method: str) -> None:
        self.calls.append(method)
        assert self.connected, f"{method} called on a disconnected client"
        failure = self.telegram.fail_next.pop(method, None)
        if failure is not None:
            raise failure
        seconds = self.telegram.flood_next.pop(method, None)
        if seconds is not None:
            if seconds > self.flood_sleep_threshold:
                raise errors.FloodWaitError(request=None, capture=seconds)
            self.slept.append(seconds)  # Telethon sleeps and retries; the retry succeeds here

    @property
    def _key(self) -> bytes:
        key: bytes = self.session.auth_key.key
        return key

    def _me(self) -> FakeAccount:
        dead = self.telegram.dead_keys.get(self._key)
        if dead is not None:
            raise dead
        user_id = self.telegram.signed_in.get(self._key)
        if user_id is None:
            raise errors.AuthKeyUnregisteredError(request=None)
        return next(a for a in self.telegram.accounts.values() if a.user.id == user_id)

    def _signed_in(self, account: FakeAccount) -> types.User:
        self.telegram.signed_in[self._key] = account.user.id
        self.telegram.awaiting_password.pop(self._key, None)
        for key in [k for k in self.telegram.codes if k[0] == self._key]:
            del self.telegram.codes[key]
        return account.user

    async def __call__(self, request: Any) -> Any:
        """Raw requests: only the one the adapter sends, account.getPassword during a two-step login."""
        self._request(type(request).__name__)
        assert isinstance(request, functions.account.GetPasswordRequest)
        user_id = self.telegram.awaiting_password.get(self._key)
        if user_id is None:
            raise errors.AuthKeyUnregisteredError(request=request)
        account = next(a for a in self.telegram.accounts.values() if a.user.id == user_id)
        return types.account.Password(
            new_algo=types.PasswordKdfAlgoUnknown(),
            new_secure_algo=types.SecurePasswordKdfAlgoUnknown(),
            secure_random=b"",
            has_password=True,
            hint=account.password_hint,
        )

    # --- login -------------------------------------------------------------------------------------------------------

    async def send_code_request(self, phone: str) -> Any:
        self._request("send_code_request")
        if not phone.isdigit() or phone not in self.telegram.accounts:
            raise errors.PhoneNumberInvalidError(request=None)
        code_hash = secrets.token_hex(8)
        self.telegram.codes[(self._key, phone)] = code_hash
        self._phone_code_hash[phone] = code_hash
        return types.auth.SentCode(
            type=types.auth.SentCodeTypeApp(length=5),
            phone_code_hash=code_hash,
            next_type=types.auth.CodeTypeSms(),
            timeout=60,
        )

    async def sign_in(
        self,
        phone: str | None = None,
        code: str | None = None,
        *,
        password: str | None = None,
        phone_code_hash: str | None = None,
    ) -> Any:
        self._request("sign_in")
        user_id = self.telegram.signed_in.get(self._key)
        if user_id is not None:
            return self._me().user
        if code:
            # As Telethon's _parse_phone_and_hash: the hash given, else the one this object got from send_code_request.
            code_hash = phone_code_hash or self._phone_code_hash.get(phone or "")
            if not phone or not code_hash:
                raise ValueError("You also need to provide a phone_code_hash.")
            # Telegram binds the code to the key that asked for it, and to the hash.
            if self.telegram.codes.get((self._key, phone)) != code_hash:
                raise errors.PhoneCodeExpiredError(request=None)
            account = self.telegram.accounts[phone]
            if code != account.code:
                raise errors.PhoneCodeInvalidError(request=None)
            if account.password is not None:
                self.telegram.awaiting_password[self._key] = account.user.id
                raise errors.SessionPasswordNeededError(request=None)
            return self._signed_in(account)
        if password is not None:
            user_id = self.telegram.awaiting_password.get(self._key)
            if user_id is None:
                raise errors.AuthKeyUnregisteredError(request=None)
            account = next(a for a in self.telegram.accounts.values() if a.user.id == user_id)
            if password != account.password:
                raise errors.PasswordHashInvalidError(request=None)
            return self._signed_in(account)
        raise ValueError("You must provide a phone and a code the first time")

    async def get_me(self) -> Any:
        self._request("get_me")
        try:
            return self._me().user
        except errors.UnauthorizedError:
            return None  # as TelegramClient.get_me

    async def log_out(self) -> bool:
        self._request("log_out")
        try:
            self._me()
        except errors.RPCError:
            return False
        self.telegram.signed_in.pop(self._key, None)
        await self.disconnect()
        self.session = None
        return True

    # --- a signed-in account -------------------------------------------------------------------------------------

    def _ordered_chats(self) -> list[FakeChat]:
        chats = self.telegram.chats[self._me().user.id]
        # Telegram lists pinned dialogs first, then the rest by their newest message.
        return sorted(chats, key=lambda c: (not c.pinned, -c.messages[-1].date.timestamp() if c.messages else 0))

    def _dialog(self, chat: FakeChat) -> custom.Dialog:
        top = chat.messages[-1] if chat.messages else None
        self._entities[chat.peer_id] = chat.entity
        tl_dialog = types.Dialog(
            peer=utils.get_peer(chat.entity),
            top_message=top.id if top else 0,
            read_inbox_max_id=0,
            read_outbox_max_id=0,
            unread_count=chat.unread_count,
            unread_mentions_count=0,
            unread_reactions_count=0,
            unread_poll_votes_count=0,
            notify_settings=types.PeerNotifySettings(),
            pinned=chat.pinned or None,
        )
        return custom.Dialog(self, tl_dialog, {chat.peer_id: chat.entity}, top)

    async def iter_dialogs(
        self,
        limit: int | None = None,
        *,
        offset_date: datetime | None = None,
        offset_id: int = 0,
        ignore_pinned: bool = False,
    ) -> AsyncIterator[Any]:
        self._request("iter_dialogs")
        count = 0
        for chat in self._ordered_chats():
            if limit is not None and count >= limit:
                return
            if ignore_pinned and chat.pinned:
                continue
            if offset_date is not None:
                top = chat.messages[-1] if chat.messages else None
                # Telethon drops dialogs newer than the offset; the one at the offset itself comes back.
                if top is None or top.date > offset_date:
                    continue
            count += 1
            yield self._dialog(chat)

    async def get_messages(self, entity: Any, limit: int) -> Any:
        self._request("get_messages")
        peer_id = utils.get_peer_id(entity)
        chat = next(c for c in self.telegram.chats[self._me().user.id] if c.peer_id == peer_id)
        return list(reversed(chat.messages))[:limit]

    async def get_input_entity(self, peer: Any) -> Any:
        self._request("get_input_entity")
        self._me()
        if isinstance(peer, str):
            name = peer.removeprefix("@").lower()
            known = [a.user for a in self.telegram.accounts.values()]
            known += [chat.entity for chats in self.telegram.chats.values() for chat in chats]
            for entity in known:
                if (getattr(entity, "username", None) or "").lower() == name:
                    return utils.get_input_peer(entity)
            # TelegramClient turns USERNAME_NOT_OCCUPIED into this ValueError.
            raise ValueError(f'No user has "{name}" as username')
        entity = self._entities.get(peer)
        if entity is None:
            raise ValueError(f"Could not find the input entity for {peer}")
        return utils.get_input_peer(entity)

    async def send_message(self, entity: Any, message: str, *, parse_mode: Any = ()) -> Any:
        self._request("send_message")
        me = self._me().user
        self.telegram.sent.append((me.id, entity, message, parse_mode))
        return types.Message(
            id=1000 + len(self.telegram.sent),
            peer_id=utils.get_peer(entity),
            date=_EPOCH + timedelta(days=1),
            message=message,
            out=True,
        )
