"""The profile flows on the real container (both databases and stores) against the Telegram stand-in: a login
continued by a new container (a restart or another replica), the cross-process lease, sealing at rest, expiry."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from core.clock import ManualClock
from core.container import Container
from core.profiles import flows
from core.profiles.jobs import purge_expired_logins
from core.profiles.port import CodeExpired, PasswordNeeded, SessionRevoked
from core.profiles.service import ProfilesConfig, StoreUnavailable
from fake_telegram import FakeTelegram, FakeUser, UserClient
from mtproto.stand_in_client import StandInProfiles
from storage.kv import KeyValueStore, RedisStore
from storage.models import PendingProfileLogin, TelegramProfile, User
from storage.repositories.users import UserRepository
from tests.helpers.app import make_container
from tests.helpers.redis_server import RedisServer

TG_DORA: FakeUser = {"id": 9001, "first_name": "Dora", "username": "dora_tg"}
DORA_PHONE = "15550101"
CLOUD_PASSWORD = "Quiet-Orchid-77"


@pytest.fixture
async def stand_in() -> AsyncIterator[tuple[FakeTelegram, UserClient]]:
    async with FakeTelegram() as fake, UserClient(fake.base_url, bot_id=1) as users:
        await users.add_account(TG_DORA, DORA_PHONE, password=CLOUD_PASSWORD)
        yield fake, users


def bind(container: Container, fake: FakeTelegram) -> None:
    port = container.config(ProfilesConfig).port
    assert isinstance(port, StandInProfiles)
    port.bind(fake.base_url)


async def new_user(container: Container) -> int:
    async with container.unit_of_work(write=True) as uow:
        return (await UserRepository(uow.session).add(User(email="dora@example.org"))).id


async def code_of(users: UserClient) -> str:
    found = re.search(r"\d{5}", (await users.account_messages(TG_DORA["id"], 777000))[-1]["text"])
    assert found is not None
    return found.group()


async def test_login_continues_in_a_new_container_and_is_sealed(
    container: Container,
    stand_in: tuple[FakeTelegram, UserClient],
    tmp_path: Path,
    kv: KeyValueStore,
    clock: ManualClock,
    database_url: str,
) -> None:
    fake, users = stand_in
    bind(container, fake)
    owner = await new_user(container)
    await flows.start_login(container, owner, "+" + DORA_PHONE)
    code = await code_of(users)
    # The first process is gone; a new one on the same database continues the login.
    await container.close()
    second = await make_container(tmp_path, kv, clock, url=database_url)
    try:
        bind(second, fake)
        with pytest.raises(PasswordNeeded):
            await flows.submit_code(second, owner, DORA_PHONE, code)
        profile = await flows.submit_password(second, owner, DORA_PHONE, CLOUD_PASSWORD)
        assert profile.telegram_id == TG_DORA["id"]
        async with second.unit_of_work(write=False) as uow:
            row = (await uow.session.execute(select(TelegramProfile))).scalar_one()
            pending = (await uow.session.execute(select(PendingProfileLogin))).scalars().all()
        assert pending == []
        assert row.session_sealed is not None
        for session_key in fake.state.accounts.sessions:
            assert session_key.encode() not in row.session_sealed
            assert bytes.fromhex(session_key) not in row.session_sealed
        assert row.key_id == "local"
    finally:
        await second.close()
        await second.db.dispose()


async def test_a_second_container_cannot_use_a_held_session(
    container: Container,
    stand_in: tuple[FakeTelegram, UserClient],
    tmp_path: Path,
    kv: KeyValueStore,
    clock: ManualClock,
    database_url: str,
) -> None:
    fake, users = stand_in
    bind(container, fake)
    owner = await new_user(container)
    await flows.start_login(container, owner, DORA_PHONE)
    with pytest.raises(PasswordNeeded):
        await flows.submit_code(container, owner, DORA_PHONE, await code_of(users))
    profile = await flows.submit_password(container, owner, DORA_PHONE, CLOUD_PASSWORD)

    second = await make_container(tmp_path, kv, clock, url=database_url)
    try:
        bind(second, fake)
        async with flows.lease(container, f"profile:{profile.id}"):
            with pytest.raises(flows.ProfileBusy):
                await flows.unread(second, owner, DORA_PHONE)
        # Released: the second process may use it now.
        assert (await flows.unread(second, owner, DORA_PHONE)).profile_id == profile.id
    finally:
        await second.close()
        await second.db.dispose()


async def test_pending_login_expires(
    container: Container, stand_in: tuple[FakeTelegram, UserClient], clock: ManualClock
) -> None:
    fake, users = stand_in
    bind(container, fake)
    owner = await new_user(container)
    await flows.start_login(container, owner, DORA_PHONE)
    code = await code_of(users)
    clock.advance(301)
    with pytest.raises(CodeExpired):
        await flows.submit_code(container, owner, DORA_PHONE, code)
    assert await purge_expired_logins(container) == 1
    assert await purge_expired_logins(container) == 0


async def test_signing_in_again_ends_the_replaced_session(
    container: Container, stand_in: tuple[FakeTelegram, UserClient]
) -> None:
    fake, users = stand_in
    bind(container, fake)
    owner = await new_user(container)
    sessions = fake.state.accounts.sessions
    profile_ids = []
    for _ in range(2):
        await flows.start_login(container, owner, DORA_PHONE)
        with pytest.raises(PasswordNeeded):
            await flows.submit_code(container, owner, DORA_PHONE, await code_of(users))
        profile_ids.append((await flows.submit_password(container, owner, DORA_PHONE, CLOUD_PASSWORD)).id)
        assert [s.user_id for s in sessions.values()] == [TG_DORA["id"]]
    assert profile_ids[0] == profile_ids[1]


@pytest.mark.sqlite_only
async def test_without_the_shared_store_no_session_is_used(tmp_path: Path, own_redis: RedisServer) -> None:
    store = RedisStore.from_url(own_redis.url, prefix="lease-test:")
    container = await make_container(tmp_path, store, ManualClock())
    try:
        async with flows.lease(container, "profile:1"):
            pass
        own_redis.stop()
        with pytest.raises(StoreUnavailable) as caught:
            async with flows.lease(container, "profile:1"):
                pytest.fail("a lease without the store")
        assert caught.value.status_hint == 503
    finally:
        await container.close()
        await container.db.dispose()
        await store.close()


async def test_a_revoked_profile_comes_back_by_signing_in_again(
    container: Container, stand_in: tuple[FakeTelegram, UserClient]
) -> None:
    fake, users = stand_in
    bind(container, fake)
    owner = await new_user(container)

    async def sign_in() -> int:
        await flows.start_login(container, owner, DORA_PHONE)
        with pytest.raises(PasswordNeeded):
            await flows.submit_code(container, owner, DORA_PHONE, await code_of(users))
        return (await flows.submit_password(container, owner, DORA_PHONE, CLOUD_PASSWORD)).id

    profile_id = await sign_in()
    await users.revoke_sessions(TG_DORA["id"])
    with pytest.raises(SessionRevoked):
        await flows.unread(container, owner, DORA_PHONE)
    [revoked] = await flows.list_profiles(container, owner)
    assert (revoked.id, revoked.state, revoked.unread_total) == (profile_id, "revoked", None)
    assert await sign_in() == profile_id
    [active] = await flows.list_profiles(container, owner)
    assert active.state == "active"
    assert (await flows.unread(container, owner, DORA_PHONE)).total == 2  # the two login codes
