from __future__ import annotations

import asyncio

import pytest

from core.container import Container
from core.errors import NotFound, ValidationFailed
from core.users.dto import TelegramProfile
from core.users.service import UserService


async def test_ensure_creates_once_then_updates_names(container: Container) -> None:
    profile = TelegramProfile(telegram_id=5_000_000_000, first_name="Ann", username="ann")
    async with container.unit_of_work(write=True) as uow:
        user, created = await UserService(uow).ensure_telegram_user(profile)
    assert created
    assert user.telegram_id == 5_000_000_000
    async with container.unit_of_work(write=True) as uow:
        again, created = await UserService(uow).ensure_telegram_user(
            TelegramProfile(telegram_id=5_000_000_000, first_name="Anna", username=None)
        )
    assert not created
    assert again.id == user.id
    assert again.first_name == "Anna"
    assert again.username is None


async def test_concurrent_first_contact_creates_one_user(container: Container) -> None:
    async def first_contact() -> tuple[int, bool]:
        async with container.unit_of_work(write=True) as uow:
            user, created = await UserService(uow).ensure_telegram_user(TelegramProfile(telegram_id=42, first_name="X"))
            return user.id, created

    results = await asyncio.gather(*(first_contact() for _ in range(10)))
    assert len({user_id for user_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1


async def test_set_language(container: Container) -> None:
    async with container.unit_of_work(write=True) as uow:
        user, _ = await UserService(uow).ensure_telegram_user(TelegramProfile(telegram_id=1, first_name="A"))
        updated = await UserService(uow).set_language(user.id, "ru")
    assert updated.language == "ru"
    async with container.unit_of_work(write=True) as uow:
        with pytest.raises(ValidationFailed):
            await UserService(uow).set_language(user.id, "xx")
        with pytest.raises(NotFound):
            await UserService(uow).set_language(999, "en")


async def test_strings_stored_exactly(container: Container) -> None:
    name = "Robert'); DROP TABLE users;-- \u202e\U0001f600 Ä\u0301"
    async with container.unit_of_work(write=True) as uow:
        user, _ = await UserService(uow).ensure_telegram_user(TelegramProfile(telegram_id=3, first_name=name))
    async with container.unit_of_work(write=False) as uow:
        assert (await UserService(uow).get(user.id)).first_name == name
