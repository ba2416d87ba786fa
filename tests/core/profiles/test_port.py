from __future__ import annotations

import pytest

from core.errors import DomainError, TooManyRequests
from core.profiles import port
from core.profiles.inputs import mask_phone, normalize_phone, parse_recipient
from core.profiles.port import PendingLogin, SessionData, SignedIn, TelegramAccount

SESSION = "1BVtsOK4Bu-secret-session-text"
CODE_HASH = "a1b2c3d4e5f6"


def pending() -> PendingLogin:
    return PendingLogin(
        phone="447700900123",
        phone_code_hash=CODE_HASH,
        session=SessionData(SESSION),
        delivery="app",
        next_delivery="sms",
        timeout=60,
    )


def test_pending_login_round_trips_through_bytes() -> None:
    state = pending()
    assert PendingLogin.from_bytes(state.to_bytes()) == state
    bare = PendingLogin(phone="1", phone_code_hash="h", session=SessionData("s"), delivery="sms")
    assert PendingLogin.from_bytes(bare.to_bytes()) == bare


def test_credentials_never_in_repr() -> None:
    state = pending()
    signed = SignedIn(TelegramAccount(1, "A", None, None, None), SessionData(SESSION))
    for text in (repr(state), str(state), repr(signed), repr(state.session)):
        assert SESSION not in text
        assert CODE_HASH not in text
    assert "447700900123" not in repr(state)
    assert "+44********23" in repr(state)
    assert "447700900123" not in repr(TelegramAccount(1, "A", None, None, "447700900123"))


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"[]",
        b'{"v": 2}',
        b'{"v": 1, "phone": "1"}',
        b'{"v":1,"phone":"1","phone_code_hash":"' + CODE_HASH.encode() + b'","session":5,"delivery":"app",'
        b'"next_delivery":null,"timeout":null}',
    ],
)
def test_malformed_state_refused_without_echo(raw: bytes) -> None:
    with pytest.raises(ValueError, match="not a pending login state") as caught:
        PendingLogin.from_bytes(raw)
    assert CODE_HASH not in str(caught.value)


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (port.InvalidPhone(), 422, "phone_invalid"),
        (port.WrongCode(attempts_left=2), 422, "code_invalid"),
        (port.CodeExpired(), 410, "code_expired"),
        (port.PasswordNeeded(), 403, "password_needed"),
        (port.WrongPassword(), 422, "password_invalid"),
        (port.SessionRevoked("revoked"), 409, "profile_session_revoked"),
        (port.FloodWait(75), 429, "telegram_flood_wait"),
        (port.PeerNotFound(), 404, "peer_not_found"),
        (port.CannotWrite(), 403, "peer_write_forbidden"),
        (port.InvalidMessage("too_long"), 422, "message_too_long"),
        (port.PhoneNotUsable("banned"), 403, "phone_banned"),
        (port.TelegramUnavailable(), 503, "telegram_unavailable"),
        (port.TooManyAttempts(), 429, "telegram_too_many_attempts"),
        (port.TelegramRefused("CHAT_ID_INVALID"), 502, "telegram_refused"),
    ],
)
def test_errors_carry_status_and_code(error: DomainError, status: int, code: str) -> None:
    assert isinstance(error, DomainError)
    assert error.status_hint == status
    assert error.code == code


def test_flood_wait_is_a_retry_after() -> None:
    error = port.FloodWait(75)
    assert isinstance(error, TooManyRequests)
    assert error.retry_after == error.seconds == 75
    assert port.WrongCode(attempts_left=2).attempts_left == 2
    assert port.PasswordNeeded(hint="cat").next_step == "password"


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("+7 (912) 345-67-89", "79123456789"),
        ("0044 20 7946 0958", "442079460958"),
        ("447700900123", "447700900123"),
        (" +1.202.555.0143 ", "12025550143"),
    ],
)
def test_normalize_phone(raw: str, digits: str) -> None:
    assert normalize_phone(raw) == digits


@pytest.mark.parametrize("raw", ["", "+", "+0123456789", "12345", "+1234567890123456", "+44 20 abc", "+٤٤٢٠٧٩٤٦٠٩٥٨"])
def test_normalize_phone_refuses(raw: str) -> None:
    with pytest.raises(DomainError) as caught:
        normalize_phone(raw)
    assert caught.value.code == "phone_invalid"
    assert caught.value.status_hint == 422


def test_mask_phone_hides_the_middle() -> None:
    assert mask_phone("79123456789") == "+79*******89"
    assert mask_phone("1234") == "+****"


@pytest.mark.parametrize(
    ("raw", "recipient"),
    [
        (777000, 777000),
        ("-1001234567890", -1001234567890),
        (" 42 ", 42),
        ("@durov", "@durov"),
        ("telegram_bot", "@telegram_bot"),
    ],
)
def test_parse_recipient(raw: str | int, recipient: int | str) -> None:
    assert parse_recipient(raw) == recipient


@pytest.mark.parametrize("raw", [0, "0", True, "", "@", "@ab", "@1abc", "@name-with-dash", "+79123456789", 2**63])
def test_parse_recipient_refuses(raw: str | int) -> None:
    with pytest.raises(DomainError) as caught:
        parse_recipient(raw)
    assert caught.value.code == "recipient_invalid"
