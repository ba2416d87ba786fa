"""The local-mode port against the real stand-in: its users act as Telegram accounts."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import aiohttp
import pytest

from core.profiles import port
from core.profiles.port import DialogCursor
from fake_telegram import FakeTelegram, FakeUser, UserClient
from mtproto.stand_in_client import StandInProfiles

ANN: FakeUser = {"id": 7001, "first_name": "Ann", "username": "ann_acc"}
BOB: FakeUser = {"id": 7002, "first_name": "Bob", "username": "bob_acc"}
SERVICE = 777000


@pytest.fixture
async def stand_in() -> AsyncIterator[tuple[FakeTelegram, UserClient]]:
    async with FakeTelegram() as fake, UserClient(fake.base_url, bot_id=1) as users:
        yield fake, users


async def code_from(users: UserClient, account_id: int) -> str:
    messages = await users.account_messages(account_id, SERVICE)
    found = re.search(r"\d{5}", messages[-1]["text"])
    assert found is not None
    return found.group()


async def test_login_with_password_dialogs_unread_send(stand_in: tuple[FakeTelegram, UserClient]) -> None:
    fake, users = stand_in
    await users.add_account(ANN, "+15550001", password="heron-42", hint="bird")
    await users.add_account(BOB, "15550002")
    client = StandInProfiles(fake.base_url)

    pending = await client.start_login("15550001")
    code = await code_from(users, ANN["id"])
    wrong = "00000" if code != "00000" else "11111"
    with pytest.raises(port.WrongCode):
        await client.submit_code(pending, wrong)
    # A new adapter (another replica) continues the same pending login.
    other = StandInProfiles(fake.base_url)
    with pytest.raises(port.PasswordNeeded) as needed:
        await other.submit_code(pending, code)
    assert needed.value.hint == "bird"
    with pytest.raises(port.WrongPassword):
        await other.submit_password(pending, "nope")
    signed = await other.submit_password(pending, "heron-42")
    assert signed.account.telegram_id == ANN["id"]

    await users.account_send(BOB["id"], ANN["id"], "hello ann")
    await users.account_send(BOB["id"], ANN["id"], "are you there")
    page = await client.dialogs(signed.session, limit=1)
    assert [d.id for d in page.dialogs] == [BOB["id"]]
    assert page.dialogs[0].unread_count == 2
    assert page.next_cursor is not None
    rest = await client.dialogs(signed.session, limit=5, cursor=page.next_cursor)
    assert [d.id for d in rest.dialogs] == [SERVICE]
    assert rest.next_cursor is None
    assert (await client.dialogs(signed.session, limit=5, cursor=DialogCursor(None, 0, 0, skip=0))).dialogs

    unread = await client.unread(signed.session, max_dialogs=10, per_dialog=1)
    by_id = {item.dialog.id: item for item in unread}
    assert by_id[BOB["id"]].dialog.unread_count == 2
    assert [m.text for m in by_id[BOB["id"]].messages] == ["are you there"]

    sent = await client.send(signed.session, "@bob_acc", "hi bob")
    assert sent.dialog_id == BOB["id"]
    assert (await users.account_messages(BOB["id"], ANN["id"]))[-1]["text"] == "hi bob"
    with pytest.raises(port.PeerNotFound):
        await client.send(signed.session, "@nobody_here", "x")

    await client.log_out(signed.session)
    with pytest.raises(port.SessionRevoked):
        await client.me(signed.session)
    await client.log_out(signed.session)  # already dead: counts as logged out


async def test_errors_map_to_the_port(stand_in: tuple[FakeTelegram, UserClient]) -> None:
    fake, users = stand_in
    await users.add_account(BOB, "15550002")
    client = StandInProfiles(fake.base_url, flood_sleep_threshold=0)
    with pytest.raises(port.InvalidPhone):
        await client.start_login("12")
    with pytest.raises(port.PhoneNotUsable):
        await client.start_login("15559999")
    pending = await client.start_login("15550002")
    signed = await client.submit_code(pending, await code_from(users, BOB["id"]))
    with pytest.raises(port.CodeExpired):  # a code works once
        await client.submit_code(pending, "12345")
    await users.flood_next_call(BOB["id"], 120)
    with pytest.raises(port.FloodWait) as flood:
        await client.me(signed.session)
    assert flood.value.retry_after == 120
    assert (await client.me(signed.session)).telegram_id == BOB["id"]
    await users.revoke_sessions(BOB["id"])
    with pytest.raises(port.SessionRevoked):
        await client.dialogs(signed.session, limit=5)
    with pytest.raises(port.TelegramUnavailable):
        await StandInProfiles(None).me(signed.session)


async def test_account_page_escapes_text(stand_in: tuple[FakeTelegram, UserClient]) -> None:
    fake, users = stand_in
    await users.add_account(ANN, "15550001")
    await users.add_account(BOB, "15550002")
    await users.account_send(BOB["id"], ANN["id"], "<script>x</script>")
    await StandInProfiles(fake.base_url).start_login("15550001")
    async with aiohttp.ClientSession() as http, http.get(f"{fake.base_url}/accounts/{ANN['id']}") as response:
        page = await response.text()
        assert response.headers["Content-Security-Policy"] == "default-src 'none'; form-action 'self'"
    assert "&lt;script&gt;" in page
    assert "<script>" not in page
    assert "Login code" in page


async def test_accounts_pages_create_accounts_and_write(stand_in: tuple[FakeTelegram, UserClient]) -> None:
    fake, users = stand_in
    await users.add_account(BOB, "15550002")
    async with aiohttp.ClientSession() as http:
        form = {"id": "7009", "first_name": "Ivy <b>", "phone": "+15550009", "password": "pw-1"}
        async with http.post(f"{fake.base_url}/accounts", data=form) as response:
            assert str(response.url) == f"{fake.base_url}/accounts/7009"
        async with http.post(f"{fake.base_url}/accounts/7009", data={"peer": str(BOB["id"]), "text": "hi"}) as r:
            assert r.status == 200
            assert "Ivy &lt;b&gt;" in await r.text()
        async with http.get(f"{fake.base_url}/accounts") as response:
            index = await response.text()
        assert 'href="accounts/7009"' in index
        assert "cloud password" in index
    assert (await users.account_messages(BOB["id"], 7009))[-1]["text"] == "hi"
    client = StandInProfiles(fake.base_url)
    pending = await client.start_login("15550009")
    with pytest.raises(port.PasswordNeeded):
        await client.submit_code(pending, await code_from(users, 7009))
