"""Telegram's user side in memory: accounts with phone numbers, login codes, cloud passwords, sessions, and private
chats between accounts (with read state), as a Telegram client sees them.

Imports nothing of the package. Errors are Telegram's RPC error names (`AccountError.name`), so an adapter maps
them the way it maps Telegram's own.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

JsonDict = dict[str, Any]

# Telegram's service account: login codes come from it.
SERVICE_ID = 777000
SERVICE_NAME = "Telegram"
CODE_TTL_SECONDS = 300
MAX_TEXT = 4096


class AccountError(Exception):
    """Telegram's RPC error: `code` (400, 401, 420...) and `name` (PHONE_CODE_INVALID, FLOOD_WAIT_30...)."""

    def __init__(self, code: int, name: str) -> None:
        super().__init__(name)
        self.code = code
        self.name = name


@dataclass
class Account:
    user_id: int
    phone: str
    first_name: str
    last_name: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    hint: str | None = None
    # Seconds the next account call must wait (a FLOOD_WAIT answer), set by a test through the user-side API.
    flood_wait: int = 0

    def user_json(self) -> JsonDict:
        return {
            "id": self.user_id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "username": self.username,
            "phone": self.phone,
        }


@dataclass
class Session:
    auth_key: str = field(repr=False)
    user_id: int | None = None
    # After a right code on an account with a cloud password: who may finish with the password.
    password_for: int | None = None


@dataclass
class SentCode:
    phone: str
    code: str = field(repr=False)
    auth_key: str = field(repr=False)
    expires_at: float


@dataclass
class ChatMessage:
    id: int
    from_id: int
    to_id: int
    text: str
    date: int


def _pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


class Accounts:
    """Every account, session, sent code and account-to-account chat of one stand-in."""

    def __init__(self) -> None:
        self.by_id: dict[int, Account] = {}
        self.sessions: dict[str, Session] = {}
        self.codes: dict[str, SentCode] = {}
        self.chats: dict[tuple[int, int], list[ChatMessage]] = {}
        # (reader, peer) -> the newest message id the reader has read in that chat.
        self.read_up_to: dict[tuple[int, int], int] = {}
        self._next_message_id = 1
        self.by_id[SERVICE_ID] = Account(SERVICE_ID, "42777", SERVICE_NAME)

    # --- people and tests ------------------------------------------------------------------------------------

    def register(self, account: Account) -> Account:
        for other in self.by_id.values():
            if other.phone == account.phone and other.user_id != account.user_id:
                raise AccountError(400, "PHONE_NUMBER_OCCUPIED")
        self.by_id[account.user_id] = account
        return account

    def by_phone(self, phone: str) -> Account | None:
        return next((a for a in self.by_id.values() if a.phone == phone and a.user_id != SERVICE_ID), None)

    def by_username(self, username: str) -> Account | None:
        name = username.lower()
        return next((a for a in self.by_id.values() if a.username and a.username.lower() == name), None)

    def revoke_sessions(self, user_id: int) -> int:
        """What "terminate all other sessions" does: every session of the account stops working."""
        dead = [key for key, session in self.sessions.items() if session.user_id == user_id]
        for key in dead:
            del self.sessions[key]
        return len(dead)

    def post(self, from_id: int, to_id: int, text: str) -> ChatMessage:
        message = ChatMessage(self._next_message_id, from_id, to_id, text, int(time.time()))
        self._next_message_id += 1
        self.chats.setdefault(_pair(from_id, to_id), []).append(message)
        # The sender has read their own chat up to what they wrote.
        self.read_up_to[(from_id, to_id)] = message.id
        return message

    def history(self, user_id: int, peer_id: int) -> list[ChatMessage]:
        return list(self.chats.get(_pair(user_id, peer_id), []))

    # --- the client side (what an MTProto client does) -------------------------------------------------------

    def new_session(self) -> Session:
        session = Session(auth_key=secrets.token_hex(32))
        self.sessions[session.auth_key] = session
        return session

    def session(self, auth_key: str) -> Session:
        session = self.sessions.get(auth_key)
        if session is None:
            raise AccountError(401, "AUTH_KEY_UNREGISTERED")
        return session

    def send_code(self, auth_key: str | None, phone: str) -> tuple[Session, str]:
        digits = phone.lstrip("+")
        if not digits.isdigit() or not 7 <= len(digits) <= 15:
            raise AccountError(400, "PHONE_NUMBER_INVALID")
        account = self.by_phone(digits)
        if account is None:
            raise AccountError(400, "PHONE_NUMBER_UNOCCUPIED")
        session = self.sessions.get(auth_key or "") or self.new_session()
        code = f"{secrets.randbelow(100000):05d}"
        phone_code_hash = secrets.token_hex(8)
        self.codes[phone_code_hash] = SentCode(digits, code, session.auth_key, time.time() + CODE_TTL_SECONDS)
        self.post(SERVICE_ID, account.user_id, f"Login code: {code}. Do not give this code to anyone.")
        return session, phone_code_hash

    def sign_in(self, auth_key: str, phone: str, phone_code_hash: str, code: str) -> Account:
        session = self.session(auth_key)
        sent = self.codes.get(phone_code_hash)
        if sent is None or sent.expires_at <= time.time():
            self.codes.pop(phone_code_hash, None)
            raise AccountError(400, "PHONE_CODE_EXPIRED")
        # Telegram binds the code to the key that asked for it and to the phone.
        if sent.auth_key != auth_key or sent.phone != phone.lstrip("+"):
            raise AccountError(400, "PHONE_CODE_EXPIRED")
        if not code or not hmac.compare_digest(sent.code, code):
            raise AccountError(400, "PHONE_CODE_INVALID" if code else "PHONE_CODE_EMPTY")
        del self.codes[phone_code_hash]
        account = self.by_phone(sent.phone)
        if account is None:
            raise AccountError(400, "PHONE_NUMBER_UNOCCUPIED")
        if account.password is not None:
            session.password_for = account.user_id
            raise AccountError(401, "SESSION_PASSWORD_NEEDED")
        session.user_id = account.user_id
        return account

    def check_password(self, auth_key: str, password: str) -> Account:
        session = self.session(auth_key)
        account = self.by_id.get(session.password_for or 0)
        if account is None or account.password is None:
            raise AccountError(400, "PASSWORD_HASH_INVALID")
        if not password:
            raise AccountError(400, "PASSWORD_EMPTY")
        if not hmac.compare_digest(account.password.encode(), password.encode()):
            raise AccountError(400, "PASSWORD_HASH_INVALID")
        session.password_for = None
        session.user_id = account.user_id
        return account

    def me(self, auth_key: str) -> Account:
        session = self.session(auth_key)
        account = self.by_id.get(session.user_id or 0)
        if account is None:
            raise AccountError(401, "AUTH_KEY_UNREGISTERED")
        if account.flood_wait > 0:
            seconds, account.flood_wait = account.flood_wait, 0
            raise AccountError(420, f"FLOOD_WAIT_{seconds}")
        return account

    def log_out(self, auth_key: str) -> None:
        self.sessions.pop(auth_key, None)

    def unread_count(self, user_id: int, peer_id: int) -> int:
        read = self.read_up_to.get((user_id, peer_id), 0)
        return sum(1 for m in self.chats.get(_pair(user_id, peer_id), []) if m.from_id == peer_id and m.id > read)

    def dialogs(self, user_id: int) -> list[JsonDict]:
        """The account's chats, newest message first."""
        result: list[JsonDict] = []
        for (a, b), messages in self.chats.items():
            if user_id not in (a, b) or not messages:
                continue
            peer_id = b if a == user_id else a
            peer = self.by_id.get(peer_id)
            last = messages[-1]
            result.append(
                {
                    "id": peer_id,
                    "kind": "user",
                    "title": " ".join(p for p in (peer.first_name, peer.last_name) if p) if peer else str(peer_id),
                    "username": peer.username if peer else None,
                    "unread_count": self.unread_count(user_id, peer_id),
                    "last_message_id": last.id,
                    "last_message_at": last.date,
                }
            )
        result.sort(key=lambda d: d["last_message_id"], reverse=True)
        return result

    def unread_messages(self, user_id: int, peer_id: int, limit: int) -> list[ChatMessage]:
        read = self.read_up_to.get((user_id, peer_id), 0)
        unread = [m for m in self.chats.get(_pair(user_id, peer_id), []) if m.from_id == peer_id and m.id > read]
        return list(reversed(unread))[:limit]

    def resolve(self, to: int | str) -> Account:
        account = self.by_username(to[1:]) if isinstance(to, str) else self.by_id.get(to)
        if account is None:
            raise AccountError(400, "USERNAME_NOT_OCCUPIED" if isinstance(to, str) else "PEER_ID_INVALID")
        return account

    def mark_read(self, user_id: int, peer_id: int) -> None:
        messages = self.chats.get(_pair(user_id, peer_id), [])
        if messages:
            self.read_up_to[(user_id, peer_id)] = messages[-1].id
