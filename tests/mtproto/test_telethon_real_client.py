"""The adapter over Telethon's real TelegramClient; only the network below it is a fake server."""

from __future__ import annotations

import functools
import logging
from datetime import UTC, datetime

import pytest
from telethon.sessions import StringSession
from telethon.tl import types

from core.profiles import port
from core.profiles.port import DialogCursor, PendingLogin, SessionData
from mtproto.telethon_client import TelethonProfiles, telethon_client_factory
from tests.mtproto.fake_mtproto import FakeMTProtoServer, FakeNetworkTelegramClient, RpcFailure

PHONE = "447700900123"
PHONE_2FA = "447700900456"
CODE = "24680"


@pytest.fixture
def server() -> FakeMTProtoServer:
    fake = FakeMTProtoServer()
    fake.add_account(PHONE, 1001, username="alice")
    return fake


def adapter(server: FakeMTProtoServer, threshold: int = 10, request_retries: int = 3) -> TelethonProfiles:
    """A new adapter, as a restarted process or another replica would build it, on the production factory."""
    factory = telethon_client_factory(
        12345,
        "0123456789abcdef0123456789abcdef",
        request_retries=request_retries,
        client_class=functools.partial(FakeNetworkTelegramClient, server=server),
    )
    return TelethonProfiles(factory, flood_sleep_threshold=threshold)


def key_of(session: SessionData) -> bytes:
    key: bytes = StringSession(session.text).auth_key.key
    return key


async def test_login_continued_by_a_new_client_from_the_stored_state(server: FakeMTProtoServer) -> None:
    pending = await adapter(server).start_login(PHONE)
    assert (pending.delivery, pending.next_delivery, pending.timeout) == ("sms", "call", 120)
    assert (key_of(pending.session), PHONE) in server.codes

    stored = PendingLogin.from_bytes(pending.to_bytes())
    with pytest.raises(port.WrongCode):
        await adapter(server).submit_code(stored, "11111")
    signed = await adapter(server).submit_code(stored, CODE)

    assert signed.account == port.TelegramAccount(1001, "User1001", None, "alice", PHONE)
    assert key_of(signed.session) == key_of(pending.session)
    assert server.connections == 3  # one client per call
    assert await adapter(server).me(signed.session) == signed.account


async def test_code_does_not_work_from_another_session(server: FakeMTProtoServer) -> None:
    pending = await adapter(server).start_login(PHONE)
    other = await adapter(server).start_login(PHONE)
    assert key_of(other.session) != key_of(pending.session)
    moved = PendingLogin(PHONE, pending.phone_code_hash, other.session, pending.delivery)
    with pytest.raises(port.CodeExpired):
        await adapter(server).submit_code(moved, CODE)


async def test_cloud_password_step_on_new_clients(server: FakeMTProtoServer) -> None:
    server.add_account(PHONE_2FA, 1002, password="correct horse")  # SRP set-up is slow: only where needed
    pending = PendingLogin.from_bytes((await adapter(server).start_login(PHONE_2FA)).to_bytes())
    with pytest.raises(port.PasswordNeeded) as needed:
        await adapter(server).submit_code(pending, CODE)
    assert needed.value.hint == "the usual"
    with pytest.raises(port.WrongPassword):
        await adapter(server).submit_password(pending, "Correct horse")
    signed = await adapter(server).submit_password(pending, "correct horse")
    assert signed.account.telegram_id == 1002
    assert "CheckPasswordRequest" in server.requests


async def test_flood_wait_within_threshold_is_slept_and_retried(server: FakeMTProtoServer) -> None:
    server.fail_next["SendCodeRequest"] = RpcFailure(420, "FLOOD_WAIT_1")
    pending = await adapter(server, threshold=1).start_login(PHONE)
    assert pending.phone == PHONE
    assert server.requests.count("SendCodeRequest") == 2  # Telethon slept one second and asked again


async def test_flood_wait_above_threshold_becomes_retry_after(server: FakeMTProtoServer) -> None:
    server.fail_next["SendCodeRequest"] = RpcFailure(420, "FLOOD_WAIT_2")
    with pytest.raises(port.FloodWait) as caught:
        await adapter(server, threshold=1).start_login(PHONE)
    assert caught.value.retry_after == 2
    assert server.requests.count("SendCodeRequest") == 1


async def test_rpc_errors_from_telegram_strings(server: FakeMTProtoServer) -> None:
    with pytest.raises(port.InvalidPhone):
        await adapter(server).start_login("15550000000")
    server.fail_next["SendCodeRequest"] = RpcFailure(400, "PHONE_NUMBER_BANNED")
    with pytest.raises(port.PhoneNotUsable):
        await adapter(server).start_login(PHONE)


async def test_telegram_internal_errors_become_unavailable(server: FakeMTProtoServer) -> None:
    # Telethon sleeps 2 s after each internal error and makes request_retries + 1 attempts; 0 keeps this short.
    server.failing["SendCodeRequest"] = RpcFailure(500, "RPC_CALL_FAIL")
    with pytest.raises(port.TelegramUnavailable):
        await adapter(server, request_retries=0).start_login(PHONE)
    assert server.requests.count("SendCodeRequest") == 1


# --- a signed-in profile ----------------------------------------------------------------------------------------


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
async def session(server: FakeMTProtoServer) -> SessionData:
    for index in range(12):
        pinned = index in (3, 7)
        if index % 3 == 0:
            server.add_chat(PHONE, channel(3000 + index, f"Chan{index}"), messages=4, unread=index % 4, pinned=pinned)
        else:
            user = types.User(id=2000 + index, first_name=f"Friend{index}", access_hash=index * 13)
            server.add_chat(PHONE, user, messages=3, unread=index % 2, pinned=pinned)
    pending = await adapter(server).start_login(PHONE)
    return (await adapter(server).submit_code(pending, CODE)).session


async def test_dialogs_paged_through_telethons_iterator(server: FakeMTProtoServer, session: SessionData) -> None:
    whole = await adapter(server).dialogs(session, limit=100)
    assert whole.next_cursor is None
    assert len(whole.dialogs) == 12
    assert [d.title for d in whole.dialogs[:2]] == ["Friend7", "Chan3"]  # pinned first
    for limit in (1, 2, 5, 11):
        seen: list[int] = []
        cursor: DialogCursor | None = None
        while True:
            page = await adapter(server).dialogs(session, limit=limit, cursor=cursor)
            seen.extend(d.id for d in page.dialogs)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == [d.id for d in whole.dialogs], limit


async def test_unread_through_telethons_history(server: FakeMTProtoServer, session: SessionData) -> None:
    unread = await adapter(server).unread(session, max_dialogs=100, per_dialog=2)
    counts = {u.dialog.title: (u.dialog.unread_count, len(u.messages)) for u in unread}
    assert counts == {
        "Friend7": (1, 1), "Chan3": (3, 2), "Friend11": (1, 1), "Chan9": (1, 1), "Chan6": (2, 2), "Friend5": (1, 1),
        "Friend1": (1, 1),
    }  # fmt: skip
    chan3 = next(u for u in unread if u.dialog.title == "Chan3")
    assert [(m.id, m.text) for m in chan3.messages] == [(4, "text 4"), (3, "text 3")]
    assert chan3.dialog.kind == "channel"
    assert chan3.dialog.id == -1000000003003


async def test_send_resolves_ids_a_fresh_client_does_not_know(server: FakeMTProtoServer, session: SessionData) -> None:
    sent = await adapter(server).send(session, -1000000003006, "**as typed**")
    assert sent.dialog_id == -1000000003006
    request = server.sent[-1]
    assert request.peer == types.InputPeerChannel(3006, 3006 * 3)
    assert request.message == "**as typed**"
    assert not request.entities  # not parsed as Markdown
    assert "GetDialogsRequest" in server.requests

    user_sent = await adapter(server).send(session, 2004, "hi")
    assert user_sent.dialog_id == 2004
    assert server.sent[-1].peer == types.InputPeerUser(2004, 4 * 13)

    await adapter(server).send(session, "@alice", "note to self")
    assert server.sent[-1].peer == types.InputPeerUser(1001, 11)


@pytest.mark.parametrize("to", ["@nobody_here", 99999, -1000000099999])
async def test_send_to_unknown_peer(server: FakeMTProtoServer, session: SessionData, to: int | str) -> None:
    with pytest.raises(port.PeerNotFound):
        await adapter(server).send(session, to, "hello")


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (RpcFailure(401, "SESSION_REVOKED"), "revoked"),
        (RpcFailure(401, "AUTH_KEY_UNREGISTERED"), "unregistered"),
        (RpcFailure(401, "USER_DEACTIVATED_BAN"), "deactivated"),
        (RpcFailure(406, "AUTH_KEY_DUPLICATED"), "duplicated"),
    ],
)
async def test_dead_sessions(server: FakeMTProtoServer, session: SessionData, failure: RpcFailure, reason: str) -> None:
    server.dead_keys[key_of(session)] = failure
    with pytest.raises(port.SessionRevoked) as caught:
        await adapter(server).dialogs(session, limit=5)
    assert caught.value.reason == reason


async def test_log_out(server: FakeMTProtoServer, session: SessionData) -> None:
    await adapter(server).log_out(session)
    assert key_of(session) not in server.signed_in
    with pytest.raises(port.SessionRevoked):
        await adapter(server).me(session)
    await adapter(server).log_out(session)


async def test_no_credential_in_any_log_record(server: FakeMTProtoServer, caplog: pytest.LogCaptureFixture) -> None:
    """Telethon's own logging included, at DEBUG, through a two-step login, a flood wait and a failure."""
    caplog.set_level(logging.DEBUG)
    server.add_account(PHONE_2FA, 1002, password="correct horse")
    server.fail_next["SendCodeRequest"] = RpcFailure(420, "FLOOD_WAIT_1")
    pending = await adapter(server, threshold=1).start_login(PHONE_2FA)
    with pytest.raises(port.PasswordNeeded):
        await adapter(server).submit_code(pending, CODE)
    with pytest.raises(port.WrongPassword):
        await adapter(server).submit_password(pending, "wrong horse")
    signed = await adapter(server).submit_password(pending, "correct horse")
    server.fail_next["SendMessageRequest"] = RpcFailure(400, "MESSAGE_TOO_LONG")
    with pytest.raises(port.InvalidMessage):
        await adapter(server).send(signed.session, "@alice", "secret text")

    logged = "\n".join(f"{record.getMessage()} {record.args!r} {record.exc_text or ''}" for record in caplog.records)
    assert caplog.records  # Telethon did log
    for secret in (pending.session.text, pending.phone_code_hash, CODE, "correct horse", "wrong horse", "secret text"):
        assert secret not in logged
    assert key_of(pending.session).hex() not in logged
