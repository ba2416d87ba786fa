"""The month summary on a family with 100,000 transactions, and list pages deep in the ledger.

    .venv/bin/python -m bench.finance_month [--postgres | --url postgresql+asyncpg://...] [--rows 100000] [--page 500]

Builds the container as run.py does, on a fresh SQLite file (or a throwaway PostgreSQL server with --postgres, or the
given database; migrated), fills one family with `rows` entries spread over two years, then times adding an entry
(the services behind POST /transactions and behind a quick entry's message and tap, without HTTP),
ReportService.summary for one month (by category and by member) and a transactions page of 50 at the start and at
page `--page` by cursor (cursor paging: both should cost the same). Prints the medians, and the plans of the
statements that the summary and both pages really sent to finance_transactions (captured from the engine):
EXPLAIN QUERY PLAN on SQLite, EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL, after ANALYZE there (autovacuum's job in
production; SQLite gets none, as the app never runs it). Nothing here is asserted; the issue's target is 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert, text

from bench.databases import captured, explain, throwaway_postgres
from core.clock import ManualClock
from core.finance.drafts import DraftService
from core.finance.families import FamilyService
from core.finance.ledger import EntryFilter, LedgerService
from core.finance.quick_entry import Refusal
from core.finance.reports import ReportService
from core.settings import load_settings
from core.users.dto import TelegramProfile
from core.users.service import UserService
from run import build_container
from storage.db import Database, DatabaseConfig
from storage.kv import MemoryStore
from storage.migrate import upgrade
from storage.models.finance import Transaction
from storage.ratelimit import create_limits_storage

PAGE_SIZE = 50


async def timed(db: Database, runs: int, cases: dict[str, Callable[[], Awaitable[object]]]) -> None:
    """Each case `runs` times, round-robin, so that drift of a shared machine hits every case alike; also the
    statements one call sends through the driver's cursor, a count no neighbour on the machine can change."""
    samples: dict[str, list[float]] = {label: [] for label in cases}
    sent: dict[str, int] = {}
    for label, call in cases.items():
        with captured(db.read_engine, db.write_engine) as statements:
            await call()
        sent[label] = len(statements)
    for _ in range(runs):
        for label, call in cases.items():
            started = time.perf_counter()
            await call()
            samples[label].append((time.perf_counter() - started) * 1000)
    for label, values in samples.items():
        ordered = sorted(values)
        print(
            f"{label:<40} median {statistics.median(ordered):8.2f} ms   p90 {ordered[int(runs * 0.9) - 1]:8.2f} ms"
            f"   {sent[label]:3d} statements"
        )


async def plans(db: Database, label: str, call: Callable[[], Awaitable[object]]) -> None:
    """The plan of every statement `call` sends to the transactions table, as it sent it."""
    with captured(db.read_engine, db.write_engine) as sent:
        await call()
    for statement in sent:
        # Reads only: EXPLAIN ANALYZE runs the statement.
        if "finance_transactions" in statement.sql and statement.sql.lstrip().upper().startswith("SELECT"):
            print(f"\n{label}:\n    " + " ".join(statement.sql.split()) + f"\n    parameters: {statement.parameters}")
            for line in await explain(db.read_engine, statement):
                print("   ", line)


async def main(url: str | None, rows: int, runs: int, deep_page: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="unibot-bench-"))
    url = url or f"sqlite+aiosqlite:///{folder / 'bench.db'}"
    settings = load_settings(
        None,
        env_file=None,
        overrides={"app": {"mode": "local", "data_dir": str(folder)}, "logging": {"level": "WARNING"}},
    )
    db = Database(DatabaseConfig(url=url))
    await upgrade(db.write_engine)
    container = build_container(
        settings,
        db=db,
        kv=MemoryStore(),
        clock=ManualClock(),
        limits_storage=create_limits_storage(None, key_prefix=""),
    )
    async with container.unit_of_work(write=True) as uow:
        user, _ = await UserService(uow).ensure_telegram_user(TelegramProfile(telegram_id=1, first_name="Bench"))
        family = await FamilyService(uow).active(user.id)
        ledger = LedgerService(uow)
        account = (await ledger.accounts(user.id, family.id))[0].id
        categories = [c.id for c in await ledger.categories(user.id, family.id, kind="expense")]
    rng = random.Random(7)
    first_day = date(2025, 1, 1)
    started = time.perf_counter()
    for offset in range(0, rows, 5000):
        batch = []
        for _ in range(min(5000, rows - offset)):
            minor = -rng.randint(100, 500_000)
            batch.append(
                {
                    "family_id": family.id,
                    "kind": "expense",
                    "account_id": account,
                    "category_id": rng.choice(categories),
                    "amount_minor": minor,
                    "currency": family.base_currency,
                    "rate_to_base": Decimal(1),
                    "base_amount_minor": minor,
                    "local_date": first_day + timedelta(days=rng.randint(0, 729)),
                    "note": rng.choice(["coffee", "taxi", "groceries", "rent", ""]),
                    "author_id": user.id,
                    "source": "bench",
                }
            )
        async with container.unit_of_work(write=True) as uow:
            await uow.session.execute(insert(Transaction), batch)
    print(f"load average before the timings: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"inserted {rows} transactions in {time.perf_counter() - started:.1f} s ({url.split(':', 1)[0]})")
    if not url.startswith("sqlite"):
        async with container.unit_of_work(write=True) as uow:
            await uow.session.execute(text("ANALYZE finance_transactions"))

    start, end = date(2026, 3, 1), date(2026, 4, 1)

    async def summary(group_by: str) -> None:
        async with container.unit_of_work(write=False) as uow:
            await ReportService(uow).summary(user.id, family.id, start, end, group_by=group_by)

    async def page(cursor: str | None) -> None:
        async with container.unit_of_work(write=False) as uow:
            await LedgerService(uow).entries(user.id, family.id, EntryFilter(), limit=PAGE_SIZE, cursor=cursor)

    async def create() -> None:
        async with container.unit_of_work(write=True) as uow:
            await LedgerService(uow).create(
                user.id, family.id, kind="expense", account_id=account, amount=Decimal("4.20"), note="coffee"
            )

    async def quick_entry() -> None:
        async with container.unit_of_work(write=True) as uow:
            draft = await DraftService(uow).propose(user.id, "250 coffee", locale="en")
        assert not isinstance(draft, Refusal)
        async with container.unit_of_work(write=True) as uow:
            await DraftService(uow).save(user.id, draft.id)

    # The cursor of page `deep_page`, walked to page by page as a client would.
    deep = None
    async with container.unit_of_work(write=False) as uow:
        for _ in range(deep_page - 1):
            deep = (
                await LedgerService(uow).entries(user.id, family.id, EntryFilter(), limit=PAGE_SIZE, cursor=deep)
            ).next_cursor
    await timed(
        db,
        runs,
        {
            "add an entry (the REST path's service)": create,
            "quick entry: draft, then save": quick_entry,
            "month summary by category": lambda: summary("category"),
            "month summary by member": lambda: summary("member"),
            "transactions, page 1": lambda: page(None),
            f"transactions, page {deep_page} (by cursor)": lambda: page(deep),
        },
    )

    async def propose() -> None:
        async with container.unit_of_work(write=True) as uow:
            await DraftService(uow).propose(user.id, "250 coffee", locale="en")

    await plans(db, "quick entry's draft", propose)
    await plans(db, "month summary by category", lambda: summary("category"))
    await plans(db, "transactions, page 1", lambda: page(None))
    await plans(db, f"transactions, page {deep_page}", lambda: page(deep))
    await container.close()
    await db.dispose()
    shutil.rmtree(folder, ignore_errors=True)


def run(url: str | None, postgres: bool, rows: int, runs: int, deep_page: int) -> None:
    if postgres:
        with throwaway_postgres() as server_url:
            asyncio.run(main(server_url, rows, runs, deep_page))
    else:
        asyncio.run(main(url, rows, runs, deep_page))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    database = parser.add_mutually_exclusive_group()
    database.add_argument("--url", default=None, help="a database to fill (migrated first); default a SQLite file")
    database.add_argument("--postgres", action="store_true", help="start a throwaway PostgreSQL server")
    parser.add_argument("--rows", type=int, default=100_000, help="transactions in the family (default 100000)")
    parser.add_argument("--runs", type=int, default=30, help="timed calls per case (default 30)")
    parser.add_argument("--page", type=int, default=500, help=f"the deep page, of {PAGE_SIZE} entries (default 500)")
    arguments = parser.parse_args()
    if arguments.page * PAGE_SIZE > arguments.rows:
        parser.error(f"--page {arguments.page} is past the last page of {arguments.rows} rows")
    run(arguments.url, arguments.postgres, arguments.rows, arguments.runs, arguments.page)
