"""The admin list's search on both databases."""

from __future__ import annotations

from storage.db import Database
from storage.models import User
from storage.repositories.access import AccessRepository, UserSearch


async def found(db: Database, search: str) -> set[int]:
    async with db.unit_of_work(write=False) as session:
        users = await AccessRepository(session).search_users(UserSearch(text=search, limit=100))
    return {user.id for user in users}


async def test_search_by_a_telegram_id_above_the_id_column_range(db: Database) -> None:
    async with db.unit_of_work() as session:
        users = [User(first_name="Kat"), User(telegram_id=7_000_000_001, telegram_username="Kat_tg")]
        session.add_all(users)
        await session.flush()
        ids = [user.id for user in users]
    assert await found(db, "7000000001") == {ids[1]}
    assert await found(db, str(ids[0])) == {ids[0]}
