"""The admin list's search: what it matches, on both databases, and that its prefix search stays indexed."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from storage.db import Database
from storage.models import User
from storage.repositories.access import AccessRepository, UserSearch, prefix_end
from tests.helpers.plans import explain

NAMES = ["Kat", "Katherine", "kate_x", "ka%t", "k_t", "kbt", "a\\b", "ab", "Ka", "кат", "zed\U0010ffffx", "zee"]


async def add_users(db: Database) -> dict[str, int]:
    async with db.unit_of_work() as session:
        users = {name: User(first_name=name) for name in NAMES}
        users["tg"] = User(telegram_id=7_000_000_001, telegram_username="Kat_tg")
        users["key"] = User(username="KatKey", username_key="katkey")
        users["last"] = User(first_name="Ann", last_name="Katz")
        session.add_all(users.values())
        await session.flush()
        return {name: user.id for name, user in users.items()}


async def found(db: Database, search: str) -> set[int]:
    async with db.unit_of_work(write=False) as session:
        users = await AccessRepository(session).search_users(UserSearch(text=search, limit=100))
    return {user.id for user in users}


def test_prefix_end_is_the_least_string_above_the_prefix() -> None:
    assert prefix_end("kat") == "kau"
    assert prefix_end("z\U0010ffff") == "{"
    assert prefix_end("\ud7ff") == "\ue000"
    assert prefix_end("") is None
    assert prefix_end("\U0010ffff") is None


async def test_name_prefix_search_matches_what_like_matches(db: Database) -> None:
    ids = await add_users(db)

    def named(*names: str) -> set[int]:
        return {ids[name] for name in names}

    assert await found(db, "kat") == named("Kat", "Katherine", "kate_x", "tg", "key", "last")
    # %, _ and the backslash are the user's text, not wildcards or escapes.
    assert await found(db, "ka%") == named("ka%t")
    assert await found(db, "k_t") == named("k_t")
    assert await found(db, "a\\") == named("a\\b")
    assert await found(db, "кат") == named("кат")
    assert await found(db, "zed\U0010ffff") == named("zed\U0010ffffx")
    assert await found(db, "@kat") == named("tg", "key")
    assert await found(db, "%") == set()


async def test_search_by_a_telegram_id_above_the_id_column_range(db: Database) -> None:
    ids = await add_users(db)
    assert await found(db, "7000000001") == {ids["tg"]}
    assert await found(db, str(ids["Kat"])) == {ids["Kat"]}
    # Digits to str.isdigit that are no number to int(): searched as text, not a failure.
    assert await found(db, "²") == set()
    assert await found(db, "٣") == set()


async def test_name_prefix_search_uses_the_prefix_indexes(db: Database) -> None:
    """Fails when an index goes or the query changes so that it cannot use them (bench/admin_users.py measures)."""
    await add_users(db)
    async with db.unit_of_work(write=False) as session:
        query = AccessRepository(session).search_query(UserSearch(text="kat", sort="id"))
        if db.is_sqlite:
            plan = "\n".join(await explain(session, query))
            names = ["ix_users_lower_first_name", "ix_users_lower_last_name", "ix_users_lower_telegram_username"]
            assert all(f"INDEX {name} " in plan for name in names), plan
            assert "SCAN users" not in plan, plan
            return
        # On a table this small a scan is cheapest; with scans priced out, only a usable index avoids one.
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        # The generic plan (PostgreSQL may use it from a prepared statement's sixth execution, and asyncpg prepares
        # every statement) cannot turn LIKE into a range: only the 0012 indexes serve the query's ~>=~ and ~<~.
        generic = "\n".join(await explain(session, query, generic=True))
        # A custom plan (the values at hand) may use the 0008 indexes instead: the tests' server uses the C
        # collation, under which LIKE 'kat%' becomes a range they serve; under any other only 0012's do.
        custom = "\n".join(await explain(session, query))
    names = ["lower_first_name", "lower_last_name", "lower_telegram_username", "username_key"]
    assert all(f"Bitmap Index Scan on ix_users_{name}_pattern" in generic for name in names), generic
    assert "Seq Scan" not in generic, generic
    assert "Seq Scan" not in custom, custom


@pytest.mark.sqlite_only
async def test_sqlite_has_no_postgresql_only_index(db: Database) -> None:
    async with db.unit_of_work(write=False) as session:
        names = (await session.execute(text("SELECT name FROM sqlite_master WHERE type = 'index'"))).scalars().all()
    assert not [name for name in names if name.endswith("_pattern")]
