"""Query plans and timings of the admin user list on 1,000,000 users (SQLite; PostgreSQL with --url).

    .venv/bin/python -m bench.admin_users [--users 1000000] [--url postgresql+asyncpg://user@host/db]

Builds a database at the migrations' head, fills it with users (about 5% beta, 1% alpha, 0.01% staff, 1% suspected
bots, 1% disabled; random names), runs ANALYZE, then for each filter the admin routes offer prints the plan and the
time of the very query `storage.repositories.access.AccessRepository` sends. Not a test: it takes minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import string
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text

from storage.db import Database, DatabaseConfig
from storage.migrate import upgrade
from storage.models.user import User
from storage.repositories.access import AccessRepository, UserSearch

CASES = {
    "newest page": UserSearch(),
    "staff": UserSearch(level="staff"),
    "beta, page 5": UserSearch(level="beta", offset=200),
    "suspected bots": UserSearch(bot_suspected=True),
    "disabled": UserSearch(active=False),
    "telegram id": UserSearch(text="7000123456"),
    "email": UserSearch(text="user123456@example.org"),
    "@username prefix": UserSearch(text="@tg_12345"),
    "name prefix": UserSearch(text="kat", sort="id"),
    "joined, newest first": UserSearch(sort="-date_joined"),
}


def name(rng: random.Random) -> str:
    return rng.choice(string.ascii_uppercase) + "".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 8)))


async def fill(db: Database, count: int) -> None:
    rng = random.Random(1)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    batch = 20_000
    for first in range(0, count, batch):
        rows = []
        for n in range(first, min(first + batch, count)):
            joined = start + timedelta(seconds=n * 60)
            rows.append(
                {
                    "telegram_id": 7_000_000_000 + n,
                    "telegram_username": f"tg_{n}",
                    "email": f"user{n}@example.org",
                    "email_key": f"user{n}@example.org",
                    "first_name": name(rng),
                    "last_name": name(rng),
                    "has_beta_access": rng.random() < 0.05,
                    "has_alpha_access": rng.random() < 0.01,
                    "is_staff": rng.random() < 0.0001,
                    "is_bot_suspected": rng.random() < 0.01,
                    "is_active": rng.random() >= 0.01,
                    "date_joined": joined,
                    "created_at": joined,
                    "updated_at": joined,
                }
            )
        async with db.unit_of_work(write=True) as session:
            await session.execute(insert(User), rows)
    async with db.unit_of_work(write=True) as session:
        await session.execute(text("ANALYZE"))


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    url = args.url or f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    db = Database(DatabaseConfig(url=url))
    await upgrade(db.write_engine)
    started = time.perf_counter()
    await fill(db, args.users)
    print(f"{args.users} users in {time.perf_counter() - started:.0f} s")
    sqlite = url.startswith("sqlite")
    for label, search in CASES.items():
        async with db.unit_of_work(write=False) as session:
            query = AccessRepository(session).search_query(search)
            compiled = query.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
            explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
            plan = (await session.execute(text(explain + str(compiled)))).all()
            started = time.perf_counter()
            found = len((await session.execute(query)).all())
            elapsed = (time.perf_counter() - started) * 1000
        print(f"\n== {label}: {found} rows in {elapsed:.1f} ms")
        for row in plan:
            print("   ", row[-1])
    await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
