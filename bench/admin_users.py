"""Query plans and timings of the admin user list on 1,000,000 users (SQLite; PostgreSQL with --url or --postgres).

    .venv/bin/python -m bench.admin_users [--users 1000000] [--repeat 9]
        [--url postgresql+asyncpg://user@host/db | --postgres [--pg-locale C.utf8]]

Builds a database at the migrations' head, fills it with users (about 5% beta, 1% alpha, 0.01% staff, 1% suspected
bots, 1% disabled; random names), runs ANALYZE, then for each filter the admin routes offer prints the plan and the
median time of the very query `storage.repositories.access.AccessRepository` sends, executed --repeat times on one
connection (as the app does: from the sixth execution PostgreSQL may use a generic plan, printed too).
`--postgres` starts a throwaway server the way the tests do (tests/helpers/postgres.py) and creates the database
with a non-C collation (`--pg-locale`), as a production database has. Not a test: it takes minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import string
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import create_async_engine

from storage.db import Database, DatabaseConfig
from storage.migrate import upgrade
from storage.models.user import User
from storage.repositories.access import AccessRepository, UserSearch
from tests.helpers.plans import explain
from tests.helpers.postgres import PostgresServer

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


@asynccontextmanager
async def throwaway_postgres(locale: str) -> AsyncIterator[str]:
    """A server of its own (initdb'd with the C locale, as in the tests) holding one database in `locale`."""
    server = PostgresServer()
    await asyncio.to_thread(server.start)
    try:
        admin = create_async_engine(f"{server.url}/postgres", isolation_level="AUTOCOMMIT")
        async with admin.connect() as conn:
            await conn.execute(text(f"CREATE DATABASE bench TEMPLATE template0 LOCALE '{locale}'"))
        await admin.dispose()
        yield f"{server.url}/bench"
    finally:
        await asyncio.to_thread(server.stop)


async def run(url: str, users: int, repeat: int) -> None:
    db = Database(DatabaseConfig(url=url))
    await upgrade(db.write_engine)
    started = time.perf_counter()
    await fill(db, users)
    print(f"{users} users in {time.perf_counter() - started:.0f} s")
    for label, search in CASES.items():
        async with db.unit_of_work(write=False) as session:
            query = AccessRepository(session).search_query(search)
            plan = await explain(session, query)
            generic = [] if db.is_sqlite else await explain(session, query, generic=True)
            timings = []
            for _ in range(repeat):
                started = time.perf_counter()
                found = len((await session.execute(query)).all())
                timings.append((time.perf_counter() - started) * 1000)
        spread = f"min {min(timings):.1f}, max {max(timings):.1f}"
        print(f"\n== {label}: {found} rows, median {statistics.median(timings):.1f} ms of {repeat} ({spread})")
        for line in plan:
            print("   ", line)
        if generic:
            print("  generic plan:")
            for line in generic:
                print("   ", line)
    await db.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=9, help="executions of each query; the median is printed")
    parser.add_argument("--url", default=None)
    parser.add_argument("--postgres", action="store_true", help="start a throwaway PostgreSQL server")
    parser.add_argument("--pg-locale", default="C.utf8", help="the --postgres database's locale (not C: see --help)")
    args = parser.parse_args()
    if args.postgres:
        async with throwaway_postgres(args.pg_locale) as url:
            await run(url, args.users, args.repeat)
        return
    url = args.url or f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    await run(url, args.users, args.repeat)


if __name__ == "__main__":
    asyncio.run(main())
