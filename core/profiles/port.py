"""What the domain needs from a Telegram client, in the domain's own terms.

An implementation speaks MTProto (the `mtproto` package does it with Telethon); nothing of the client library crosses
this boundary: calls take and return the plain values below, and every failure is one of the errors below.

A signed-in profile is represented by its session text (`SessionData`): whatever the implementation needs to act as
that account again, in any process, after any restart. It is a credential, so it is never shown by `repr` and the
domain stores it only encrypted (`core.profiles.crypto`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from core.errors import Conflict, DomainError, Forbidden, NotFound, TooManyRequests, ValidationFailed

# --- values ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionData:
    """A signed-in (or signing-in) client session as opaque text."""

    text: str = field(repr=False)

    def __repr__(self) -> str:
        return "SessionData(<redacted>)"


@dataclass(frozen=True, slots=True)
class PendingLogin:
    """Everything needed to continue a login after the code was sent, in any process.

    Telegram binds the sent code to the session that asked for it and to `phone_code_hash`; both are kept here, so
    the state can be stored (encrypted: it holds the session's key) and continued by another replica.
    """

    phone: str
    phone_code_hash: str = field(repr=False)
    session: SessionData
    # How the code was delivered ("app", "sms", "call", ...) and how a re-send would deliver it, as Telegram says.
    delivery: str
    next_delivery: str | None = None
    # Seconds before the next delivery may be requested, when Telegram says so.
    timeout: int | None = None

    def __repr__(self) -> str:
        return f"PendingLogin(phone={mask_phone(self.phone)!r}, delivery={self.delivery!r}, <credentials redacted>)"

    def to_bytes(self) -> bytes:
        """JSON of the state; the caller encrypts it before it leaves memory."""
        data: dict[str, Any] = {
            "v": 1,
            "phone": self.phone,
            "phone_code_hash": self.phone_code_hash,
            "session": self.session.text,
            "delivery": self.delivery,
            "next_delivery": self.next_delivery,
            "timeout": self.timeout,
        }
        return json.dumps(data, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> PendingLogin:
        try:
            data = json.loads(raw)
            if not isinstance(data, dict) or data.get("v") != 1:
                raise ValueError("unknown version")
            timeout = data["timeout"]
            next_delivery = data["next_delivery"]
            pending = cls(
                phone=_text(data["phone"]),
                phone_code_hash=_text(data["phone_code_hash"]),
                session=SessionData(_text(data["session"])),
                delivery=_text(data["delivery"]),
                next_delivery=None if next_delivery is None else _text(next_delivery),
                timeout=None if timeout is None else int(timeout),
            )
        except (ValueError, KeyError, TypeError) as exc:
            # The content is a credential: say what failed, never what was read.
            raise ValueError(f"not a pending login state ({type(exc).__name__})") from None
        return pending


def mask_phone(digits: str) -> str:
    """What may be shown of a stored number: the first two and last two digits."""
    if len(digits) <= 4:
        return "+" + "*" * len(digits)
    return "+" + digits[:2] + "*" * (len(digits) - 4) + digits[-2:]


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("expected text")
    return value


@dataclass(frozen=True, slots=True)
class TelegramAccount:
    """The Telegram user a profile is signed in as."""

    telegram_id: int
    first_name: str | None
    last_name: str | None
    username: str | None
    # Digits only, as Telegram reports it; None when Telegram does not disclose it. Kept out of logs via repr.
    phone: str | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A completed login: who signed in, and the session to keep for acting as them."""

    account: TelegramAccount
    session: SessionData


@dataclass(frozen=True, slots=True)
class Dialog:
    # Bot API style ("marked") id: users positive, basic groups negative, channels and supergroups -100...;
    # the same id is accepted by `send`.
    id: int
    kind: str  # "user", "bot", "group", "channel"
    title: str
    username: str | None
    unread_count: int
    last_message_at: datetime | None
    pinned: bool
    archived: bool


@dataclass(frozen=True, slots=True)
class DialogCursor:
    """Where the next page of dialogs starts: an anchor dialog (its id and newest message) and how many dialogs
    after the anchor were already shown. No anchor (offset_date None) means the top of the list."""

    offset_date: datetime | None
    offset_id: int
    offset_peer_id: int
    skip: int = 0


@dataclass(frozen=True, slots=True)
class DialogPage:
    dialogs: tuple[Dialog, ...]
    # None when this page is the last one.
    next_cursor: DialogCursor | None


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    dialog_id: int
    sender_id: int | None
    date: datetime
    # Text or media caption; empty for media without one (see `media`).
    text: str
    outgoing: bool
    media: str | None  # "photo", "document", ... when the message carries media


@dataclass(frozen=True, slots=True)
class UnreadDialog:
    dialog: Dialog
    # Newest first; at most the reader's per-dialog limit even when `dialog.unread_count` is larger.
    messages: tuple[Message, ...]


@dataclass(frozen=True, slots=True)
class SentMessage:
    id: int
    dialog_id: int
    date: datetime


# A recipient: a marked numeric id, or "@username".
Recipient = int | str


# --- errors ----------------------------------------------------------------------------------------------------


class InvalidPhone(ValidationFailed):
    def __init__(self) -> None:
        super().__init__("phone_invalid", "Telegram does not accept this phone number")


class PhoneNotUsable(Forbidden):
    """The number exists but cannot sign in here: banned, or no Telegram account (third-party apps cannot sign up)."""

    def __init__(self, reason: str) -> None:
        message = {
            "banned": "This phone number is banned by Telegram",
            "unregistered": "No Telegram account uses this phone number",
        }.get(reason, "This phone number cannot sign in")
        super().__init__(f"phone_{reason}", message)
        self.reason = reason


class TooManyAttempts(DomainError):
    """Telegram refuses more codes, passwords or first messages for now, without saying for how long."""

    status_hint = 429

    def __init__(self) -> None:
        super().__init__("telegram_too_many_attempts", "Telegram refuses more attempts for now; try again later")


class WrongCode(ValidationFailed):
    def __init__(self, attempts_left: int | None = None) -> None:
        super().__init__("code_invalid", "The login code is wrong")
        # Telegram does not say how many tries remain; the domain fills this in when it counts them itself.
        self.attempts_left = attempts_left


class CodeExpired(DomainError):
    status_hint = 410

    def __init__(self) -> None:
        super().__init__("code_expired", "The login code has expired; start the login again")


class PasswordNeeded(Forbidden):
    """The code was right, and the account has two-step verification: the next step is its cloud password."""

    next_step = "password"

    def __init__(self, hint: str | None = None) -> None:
        super().__init__("password_needed", "This account has two-step verification: send its cloud password")
        # The hint the owner set for their own password; Telegram shows it to whoever signs in.
        self.hint = hint


class WrongPassword(ValidationFailed):
    def __init__(self) -> None:
        super().__init__("password_invalid", "The cloud password is wrong")


class SessionRevoked(Conflict):
    """The profile's Telegram session no longer works; only a new login brings the profile back.

    `reason`: "revoked" (terminated from another device), "unregistered" (the key is unknown to Telegram),
    "deactivated" (the account is deleted or banned), "duplicated" (used from two places at once), or
    "unauthorized" (Telegram refused it without saying why).
    """

    def __init__(self, reason: str) -> None:
        super().__init__("profile_session_revoked", "This Telegram profile is signed out; link it again")
        self.reason = reason


class FloodWait(TooManyRequests):
    def __init__(self, seconds: int) -> None:
        super().__init__("telegram_flood_wait", f"Telegram asks to wait {seconds} seconds", retry_after=seconds)
        self.seconds = seconds


class PeerNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("peer_not_found", "No such Telegram user, chat or channel is reachable from this profile")


class CannotWrite(Forbidden):
    def __init__(self) -> None:
        super().__init__("peer_write_forbidden", "This profile cannot write to that chat")


class InvalidMessage(ValidationFailed):
    def __init__(self, reason: str) -> None:
        super().__init__(f"message_{reason}", "Telegram refused the message text as " + reason.replace("_", " "))
        self.reason = reason


class TelegramUnavailable(DomainError):
    status_hint = 503

    def __init__(self) -> None:
        super().__init__("telegram_unavailable", "Telegram could not be reached; try again later")


class TelegramRefused(DomainError):
    """Telegram refused a request for a reason the domain has no name for; `reason` is Telegram's error name."""

    status_hint = 502

    def __init__(self, reason: str) -> None:
        super().__init__("telegram_refused", "Telegram refused the request")
        self.reason = reason


# --- the port --------------------------------------------------------------------------------------------------


class TelegramProfilesPort(Protocol):
    """Telegram user-account operations. Every method raises only the errors of this module."""

    async def start_login(self, phone: str) -> PendingLogin:
        """Ask Telegram to send a login code to `phone` (E.164 digits); the state to continue with."""

    async def submit_code(self, pending: PendingLogin, code: str) -> SignedIn:
        """Sign in with the code. Raises PasswordNeeded when the account has two-step verification; the same
        `pending` then continues with `submit_password`."""

    async def submit_password(self, pending: PendingLogin, password: str) -> SignedIn:
        """Finish a login that raised PasswordNeeded."""

    async def me(self, session: SessionData) -> TelegramAccount: ...

    async def dialogs(self, session: SessionData, *, limit: int, cursor: DialogCursor | None = None) -> DialogPage:
        """Pinned dialogs first, then newest first, `limit` at most; pass `next_cursor` back for the next page."""

    async def unread(self, session: SessionData, *, max_dialogs: int, per_dialog: int) -> tuple[UnreadDialog, ...]:
        """Dialogs with unread messages among the newest `max_dialogs`, each with up to `per_dialog` of them."""

    async def send(self, session: SessionData, to: Recipient, text: str) -> SentMessage: ...

    async def log_out(self, session: SessionData) -> None:
        """End the session at Telegram; a session that is already dead counts as logged out."""
