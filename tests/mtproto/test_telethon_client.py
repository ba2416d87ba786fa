from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime

import pytest
from telethon import TelegramClient, errors
from telethon.sessions import StringSession
from telethon.tl import types

from core.errors import DomainError
from core.profiles import port
from core.profiles.port import DialogCursor, PendingLogin, SessionData, TelegramProfilesPort
from mtproto.telethon_client import TelethonProfiles, telethon_client_factory
from tests.mtproto.fake_telethon import FakeTelegram, FakeTelethonClient

PHONE = "447700900123"
PHONE_2FA = "447700900456"
THRESHOLD = 10


@pytest.fixture
def telegram() -> FakeTelegram:
    world = FakeTelegram()
    world.add_account(PHONE, 1001, username="alice")
    world.add_account(PHONE_2FA, 1002, password="correct horse")
    return world


def adapter(telegram: FakeTelegram, threshold: int = THRESHOLD) -> TelethonProfiles:
    """A new adapter with its own factory, as another replica or a restarted process would build it."""
    return TelethonProfiles(
        lambda text, flood: FakeTelethonClient(telegram, text, flood), flood_sleep_threshold=threshold
    )


async def signed_in(telegram: FakeTelegram, phone: str = PHONE) -> SessionData:
    pending = await adapter(telegram).start_login(phone)
    return (await adapter(telegram).submit_code(pending, "12345")).session


def test_adapter_implements_the_port(telegram: FakeTelegram) -> None:
    profiles: TelegramProfilesPort = adapter(telegram)  # checked by mypy against the Protocol
    assert isinstance(profiles, TelethonProfiles)


# --- login ------------------------------------------------------------------------------------------------------


async def test_login_continued_from_stored_state_by_a_new_adapter_and_client(telegram: FakeTelegram) -> None:
    pending = await adapter(telegram).start_login(PHONE)
    assert pending.phone == PHONE
    assert pending.delivery == "app"
    assert pending.next_delivery == "sms"
    assert pending.timeout == 60
    first = telegram.clients[0]
    assert pending.phone_code_hash == first._phone_code_hash[PHONE]
    # The saved session is Telethon's own format and carries the key the code is bound to.
    assert StringSession(pending.session.text).auth_key.key == first.session.auth_key.key

    restored = PendingLogin.from_bytes(pending.to_bytes())  # as if read back from the database after a restart
    result = await adapter(telegram).submit_code(restored, "12345")

    second = telegram.clients[1]
    assert second is not first
    assert second._phone_code_hash == {}  # the hash came from the stored state, not from the first object
    assert result.account == port.TelegramAccount(1001, "User1001", "Fake", "alice", PHONE)
    assert result.session == pending.session
    assert await adapter(telegram).me(result.session) == result.account
    assert all(not client.connected for client in telegram.clients)


async def test_code_bound_to_the_session_that_asked_for_it(telegram: FakeTelegram) -> None:
    pending = await adapter(telegram).start_login(PHONE)
    other = await adapter(telegram).start_login(PHONE)
    mixed = PendingLogin(
        phone=PHONE, phone_code_hash=pending.phone_code_hash, session=other.session, delivery=pending.delivery
    )
    with pytest.raises(port.CodeExpired):
        await adapter(telegram).submit_code(mixed, "12345")


async def test_two_step_login_names_the_password_step(telegram: FakeTelegram) -> None:
    pending = PendingLogin.from_bytes((await adapter(telegram).start_login(PHONE_2FA)).to_bytes())
    with pytest.raises(port.PasswordNeeded) as needed:
        await adapter(telegram).submit_code(pending, "12345")
    assert needed.value.next_step == "password"
    assert needed.value.status_hint == 403
    assert needed.value.hint is None  # this account set none

    telegram.accounts[PHONE_2FA].password_hint = "first pet"
    with pytest.raises(port.PasswordNeeded) as again:
        await adapter(telegram).submit_code(pending, "12345")
    assert again.value.hint == "first pet"
    assert "first pet" not in str(again.value)

    with pytest.raises(port.WrongPassword):
        await adapter(telegram).submit_password(pending, "wrong")
    result = await adapter(telegram).submit_password(pending, "correct horse")
    assert result.account.telegram_id == 1002
    assert "correct horse" not in repr(result)


async def test_wrong_code_then_right_code(telegram: FakeTelegram) -> None:
    pending = await adapter(telegram).start_login(PHONE)
    with pytest.raises(port.WrongCode) as wrong:
        await adapter(telegram).submit_code(pending, "99999")
    assert wrong.value.status_hint == 422
    assert wrong.value.attempts_left is None  # Telegram does not say
    assert (await adapter(telegram).submit_code(pending, "12345")).account.telegram_id == 1001


async def test_unknown_phone_is_invalid(telegram: FakeTelegram) -> None:
    with pytest.raises(port.InvalidPhone):
        await adapter(telegram).start_login("15550000000")


async def test_payment_required_answer_is_not_a_pending_login(telegram: FakeTelegram) -> None:
    async def payment(phone: str) -> object:
        return types.auth.SentCodePaymentRequired(
            store_product="p", phone_code_hash="h", support_email_address="a@b.c", support_email_subject="s",
            premium_days=0, currency="EUR", amount=1,
        )  # fmt: skip

    def factory(text: str, flood: int) -> FakeTelethonClient:
        client = FakeTelethonClient(telegram, text, flood)
        client.send_code_request = payment  # type: ignore[method-assign]
        return client

    with pytest.raises(port.PhoneNotUsable) as caught:
        await TelethonProfiles(factory).start_login(PHONE)
    assert caught.value.reason == "payment_required"


# --- Telethon's errors -> the port's errors ---------------------------------------------------------------------

DEAD_SESSION = [
    (errors.SessionRevokedError(request=None), "revoked"),
    (errors.AuthKeyUnregisteredError(request=None), "unregistered"),
    (errors.UserDeactivatedError(request=None), "deactivated"),
    (errors.UserDeactivatedBanError(request=None), "deactivated"),
    (errors.AuthKeyDuplicatedError(request=None), "duplicated"),
    (errors.SessionExpiredError(request=None), "revoked"),
]


@pytest.mark.parametrize(("failure", "reason"), DEAD_SESSION)
async def test_dead_session_errors(telegram: FakeTelegram, failure: Exception, reason: str) -> None:
    session = await signed_in(telegram)
    key = StringSession(session.text).auth_key.key
    telegram.dead_keys[key] = failure
    with pytest.raises(port.SessionRevoked) as caught:
        await adapter(telegram).send(session, "@alice", "hello")
    assert caught.value.reason == reason
    assert caught.value.status_hint == 409
    # get_me swallows every 401 into None (AUTH_KEY_DUPLICATED is a 406); the port still reports a dead session.
    with pytest.raises(port.SessionRevoked) as via_me:
        await adapter(telegram).me(session)
    assert via_me.value.reason == ("unauthorized" if isinstance(failure, errors.UnauthorizedError) else reason)


MAPPED = [
    ("send_code_request", errors.PhoneNumberInvalidError(request=None), port.InvalidPhone, 422),
    ("send_code_request", errors.PhoneNumberBannedError(request=None), port.PhoneNotUsable, 403),
    ("send_code_request", errors.PhoneNumberFloodError(request=None), port.TooManyAttempts, 429),
    ("send_code_request", errors.RpcCallFailError(request=None), port.TelegramUnavailable, 503),
    ("send_code_request", errors.ApiIdInvalidError(request=None), port.TelegramRefused, 502),
    ("sign_in", errors.PhoneCodeInvalidError(request=None), port.WrongCode, 422),
    ("sign_in", errors.PhoneCodeEmptyError(request=None), port.WrongCode, 422),
    ("sign_in", errors.PhoneCodeExpiredError(request=None), port.CodeExpired, 410),
    ("sign_in", errors.PhoneCodeHashEmptyError(request=None), port.CodeExpired, 410),
    ("sign_in", errors.SessionPasswordNeededError(request=None), port.PasswordNeeded, 403),
    ("sign_in", errors.PhoneNumberUnoccupiedError(request=None), port.PhoneNotUsable, 403),
    ("sign_in", errors.FloodWaitError(request=None, capture=600), port.FloodWait, 429),
]  # fmt: skip


@pytest.mark.parametrize(("method", "failure", "expected", "status"), MAPPED)
async def test_login_errors_map_to_port_errors(
    telegram: FakeTelegram, method: str, failure: Exception, expected: type[DomainError], status: int
) -> None:
    pending = await adapter(telegram).start_login(PHONE)
    telegram.fail_next[method] = failure
    with pytest.raises(expected) as caught:
        if method == "send_code_request":
            await adapter(telegram).start_login(PHONE)
        else:
            await adapter(telegram).submit_code(pending, "12345")
    assert caught.value.status_hint == status
    assert pending.phone_code_hash not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__  # Telethon's text stays out of tracebacks shown to anyone


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (errors.PasswordHashInvalidError(request=None), port.WrongPassword),
        (errors.PasswordEmptyError(request=None), port.WrongPassword),
        (errors.PhonePasswordFloodError(request=None), port.TooManyAttempts),
    ],
)
async def test_password_errors(telegram: FakeTelegram, failure: Exception, expected: type[DomainError]) -> None:
    pending = await adapter(telegram).start_login(PHONE_2FA)
    with pytest.raises(port.PasswordNeeded):
        await adapter(telegram).submit_code(pending, "12345")
    telegram.fail_next["sign_in"] = failure
    with pytest.raises(expected):
        await adapter(telegram).submit_password(pending, "correct horse")


@pytest.mark.parametrize(
    ("failure", "expected", "status"),
    [
        (errors.ChatWriteForbiddenError(request=None), port.CannotWrite, 403),
        (errors.UserIsBlockedError(request=None), port.CannotWrite, 403),
        (errors.YouBlockedUserError(request=None), port.CannotWrite, 403),
        (errors.PeerIdInvalidError(request=None), port.PeerNotFound, 404),
        (errors.ChannelPrivateError(request=None), port.PeerNotFound, 404),
        (errors.MessageTooLongError(request=None), port.InvalidMessage, 422),
        (errors.MessageEmptyError(request=None), port.InvalidMessage, 422),
        (errors.PeerFloodError(request=None), port.TooManyAttempts, 429),
        (errors.SlowModeWaitError(request=None, capture=120), port.FloodWait, 429),
        (errors.TimedOutError(request=None, message="Timeout", code=-503), port.TelegramUnavailable, 503),
        (ConnectionError("Connection to Telegram failed 3 time(s)"), port.TelegramUnavailable, 503),
    ],
)
async def test_send_errors(
    telegram: FakeTelegram, failure: Exception, expected: type[DomainError], status: int
) -> None:
    session = await signed_in(telegram)
    telegram.fail_next["send_message"] = failure
    with pytest.raises(expected) as caught:
        await adapter(telegram).send(session, "@alice", "hello")
    assert caught.value.status_hint == status


async def test_unreachable_telegram(telegram: FakeTelegram) -> None:
    telegram.unreachable = True
    with pytest.raises(port.TelegramUnavailable):
        await adapter(telegram).start_login(PHONE)
    assert telegram.clients[-1].calls == ["connect", "disconnect"]


async def test_bugs_are_not_disguised(telegram: FakeTelegram) -> None:
    """Anything that is not Telethon's report about Telegram comes out unchanged, and the client still closes."""
    session = await signed_in(telegram)
    telegram.fail_next["send_message"] = KeyError("programming error")
    with pytest.raises(KeyError):
        await adapter(telegram).send(session, "@alice", "hello")
    assert not telegram.clients[-1].connected


# --- flood waits ------------------------------------------------------------------------------------------------


async def test_short_flood_waits_are_slept_by_telethon(telegram: FakeTelegram) -> None:
    telegram.flood_next["send_code_request"] = THRESHOLD
    pending = await adapter(telegram).start_login(PHONE)
    client = telegram.clients[-1]
    assert client.flood_sleep_threshold == THRESHOLD
    assert client.slept == [THRESHOLD]
    assert pending.phone == PHONE


async def test_long_flood_wait_becomes_retry_after(telegram: FakeTelegram) -> None:
    session = await signed_in(telegram)
    telegram.flood_next["send_message"] = THRESHOLD + 1
    with pytest.raises(port.FloodWait) as caught:
        await adapter(telegram).send(session, "@alice", "hello")
    assert caught.value.seconds == THRESHOLD + 1
    assert caught.value.retry_after == THRESHOLD + 1
    assert caught.value.status_hint == 429


async def test_threshold_is_the_constructor_setting(telegram: FakeTelegram) -> None:
    telegram.flood_next["send_code_request"] = 30
    await adapter(telegram, threshold=60).start_login(PHONE)
    assert telegram.clients[-1].slept == [30]
    telegram.flood_next["send_code_request"] = 30
    with pytest.raises(port.FloodWait):
        await adapter(telegram, threshold=5).start_login(PHONE)


# --- a signed-in profile ----------------------------------------------------------------------------------------


def user(user_id: int, name: str, username: str | None = None, *, bot: bool = False) -> types.User:
    return types.User(id=user_id, first_name=name, username=username, access_hash=user_id * 7, bot=bot)


def channel(channel_id: int, title: str, *, megagroup: bool = False) -> types.Channel:
    return types.Channel(
        id=channel_id,
        title=title,
        photo=types.ChatPhotoEmpty(),
        date=datetime(2029, 1, 1, tzinfo=UTC),
        access_hash=channel_id * 3,
        megagroup=megagroup,
        username=title.lower(),
    )


@pytest.fixture
async def account(telegram: FakeTelegram) -> SessionData:
    session = await signed_in(telegram)
    telegram.add_chat(1001, user(2001, "Bob", "bob"), messages=3, unread=2)
    telegram.add_chat(1001, channel(3001, "News"), messages=5, unread=5)
    telegram.add_chat(1001, user(2002, "Helper", "helper_bot", bot=True), messages=1)
    telegram.add_chat(1001, channel(3002, "Team", megagroup=True), messages=2, unread=1, pinned=True)
    telegram.add_chat(1001, user(2003, "Carol"), messages=4)
    telegram.add_chat(1001, user(2004, "Dave"), messages=1, pinned=True)
    telegram.add_chat(1001, user(2005, "Erin"), messages=2, unread=1)
    telegram.add_chat(1001, user(2006, "Empty"), messages=0)  # history cleared: no top message, no date
    return session


async def test_dialogs_in_one_page(telegram: FakeTelegram, account: SessionData) -> None:
    page = await adapter(telegram).dialogs(account, limit=50)
    assert page.next_cursor is None
    assert [d.title for d in page.dialogs] == ["Dave", "Team", "Erin", "Carol", "Helper", "News", "Bob", "Empty"]
    kinds = {d.title: d.kind for d in page.dialogs}
    assert kinds == {
        "Dave": "user", "Team": "group", "Erin": "user", "Carol": "user", "Helper": "bot", "News": "channel",
        "Bob": "user", "Empty": "user",
    }  # fmt: skip
    news = next(d for d in page.dialogs if d.title == "News")
    assert news.id == -1000000003001
    assert news.username == "news"
    assert news.unread_count == 5
    assert news.last_message_at is not None
    assert [d.pinned for d in page.dialogs][:3] == [True, True, False]


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 6, 7, 8])
async def test_dialogs_paged_show_each_dialog_once(telegram: FakeTelegram, account: SessionData, limit: int) -> None:
    everything = (await adapter(telegram).dialogs(account, limit=50)).dialogs
    seen: list[int] = []
    cursor: DialogCursor | None = None
    for _ in range(10):
        page = await adapter(telegram).dialogs(account, limit=limit, cursor=cursor)
        assert 0 < len(page.dialogs) <= limit
        seen.extend(d.id for d in page.dialogs)
        cursor = page.next_cursor
        if cursor is None:
            break
    dated = [d.id for d in everything if d.last_message_at is not None]
    assert [i for i in seen if i in dated] == dated
    assert len(seen) == len(set(seen))
    # Pages after the first anchored one list by date, where Telethon drops a dialog without a message: "Empty"
    # appears only when the first pages reach it.
    assert (2006 in seen) == (limit >= len(everything))


async def test_unread_reads_only_dialogs_with_unread_messages(telegram: FakeTelegram, account: SessionData) -> None:
    unread = await adapter(telegram).unread(account, max_dialogs=50, per_dialog=3)
    assert [(u.dialog.title, len(u.messages)) for u in unread] == [("Team", 1), ("Erin", 1), ("News", 3), ("Bob", 2)]
    news = unread[2]
    assert [m.id for m in news.messages] == [5, 4, 3]
    assert all(m.dialog_id == news.dialog.id for m in news.messages)
    bob = unread[3].messages[0]
    assert (bob.text, bob.sender_id, bob.outgoing, bob.media) == ("message 3 in Bob", 2001, False, None)
    limited = await adapter(telegram).unread(account, max_dialogs=3, per_dialog=10)  # Dave, Team, Erin
    assert [u.dialog.title for u in limited] == ["Team", "Erin"]


async def test_send_to_username_and_to_id_unknown_to_a_fresh_client(
    telegram: FakeTelegram, account: SessionData
) -> None:
    sent = await adapter(telegram).send(account, "@bob", "**not markdown**")
    assert sent.dialog_id == 2001
    assert telegram.sent[-1][2:] == ("**not markdown**", None)

    # A new client has no access hashes: the adapter learns them from the dialogs, then sends.
    sent = await adapter(telegram).send(account, -1000000003001, "to the channel")
    assert sent.dialog_id == -1000000003001
    assert telegram.sent[-1][1] == types.InputPeerChannel(3001, 3001 * 3)
    assert "iter_dialogs" in telegram.clients[-1].calls


@pytest.mark.parametrize("to", ["@nobody_here", 987654321])
async def test_send_to_unknown_peer(telegram: FakeTelegram, account: SessionData, to: int | str) -> None:
    with pytest.raises(port.PeerNotFound):
        await adapter(telegram).send(account, to, "hello")
    assert telegram.sent == []


async def test_log_out_ends_the_session(telegram: FakeTelegram, account: SessionData) -> None:
    await adapter(telegram).log_out(account)
    with pytest.raises(port.SessionRevoked):
        await adapter(telegram).me(account)
    await adapter(telegram).log_out(account)  # already dead: still fine


async def test_profile_calls_close_their_client(telegram: FakeTelegram, account: SessionData) -> None:
    before = len(telegram.clients)
    await adapter(telegram).dialogs(account, limit=5)
    await adapter(telegram).unread(account, max_dialogs=5, per_dialog=1)
    await adapter(telegram).me(account)
    for client in telegram.clients[before:]:
        assert client.calls[0] == "connect"
        assert client.calls[-1] == "disconnect"


async def test_calls_on_one_session_take_turns(telegram: FakeTelegram, account: SessionData) -> None:
    profiles = adapter(telegram)
    telegram.most_connections_per_key = 0
    await asyncio.gather(
        profiles.me(account), profiles.dialogs(account, limit=3), profiles.unread(account, max_dialogs=3, per_dialog=1)
    )
    assert telegram.most_connections_per_key == 1
    assert not profiles._turns or all(not lock.locked() for lock in profiles._turns.values())


async def test_calls_on_different_sessions_run_together(telegram: FakeTelegram) -> None:
    first, second = await signed_in(telegram), await signed_in(telegram)
    profiles = adapter(telegram)
    telegram.most_connections = 0
    await asyncio.gather(profiles.me(first), profiles.me(second))
    assert telegram.most_connections == 2  # the second did not wait for the first
    assert telegram.most_connections_per_key == 1


# --- the real client ------------------------------------------------------------------------------------------


async def test_real_factory_builds_an_unconnected_telethon_client() -> None:
    session = StringSession("")
    session.set_dc(4, "149.154.167.91", 443)
    from telethon.crypto import AuthKey

    session.auth_key = AuthKey(bytes(range(256)))
    text = session.save()
    client = telethon_client_factory(12345, "0" * 32)(text, 42)
    assert isinstance(client, TelegramClient)
    assert client.flood_sleep_threshold == 42
    assert client.session.save() == text
    assert client.session.dc_id == 4
    assert not client.is_connected()


def test_network_guard_refuses_remote_addresses() -> None:
    with socket.socket() as sock, pytest.raises(AssertionError, match="tried to connect"):
        sock.connect(("149.154.167.51", 443))
