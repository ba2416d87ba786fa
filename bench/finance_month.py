"""The month summary on a family with 100,000 transactions, and list pages deep in the ledger.

    .venv/bin/python -m bench.finance_month [--url postgresql+asyncpg://...] [--rows 100000]

Builds the container as run.py does, on a fresh SQLite file (or the given database, migrated), fills one family with
`rows` entries spread over two years, then times adding an entry (the services behind POST /transactions and behind
a quick entry's message and tap, without HTTP), ReportService.summary for one month (by category and by member) and
a transactions page at the start and deep in the ledger (cursor paging: both should cost the same). Prints the
medians and the query plan of the month summary. Nothing here is asserted; the issue's target is under 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert, text

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


async def timed(label: str, runs: int, call: object) -> None:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()  # type: ignore[operator]
        samples.append((time.perf_counter() - started) * 1000)
    print(
        f"{label:<40} median {statistics.median(samples):8.2f} ms   p90 {sorted(samples)[int(runs * 0.9) - 1]:8.2f} ms"
    )


async def main(url: str | None, rows: int) -> None:
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
    print(f"inserted {rows} transactions in {time.perf_counter() - started:.1f} s ({url.split(':', 1)[0]})")

    start, end = date(2026, 3, 1), date(2026, 4, 1)

    async def summary(group_by: str) -> None:
        async with container.unit_of_work(write=False) as uow:
            await ReportService(uow).summary(user.id, family.id, start, end, group_by=group_by)

    async def page(cursor: str | None) -> None:
        async with container.unit_of_work(write=False) as uow:
            await LedgerService(uow).entries(user.id, family.id, EntryFilter(), limit=50, cursor=cursor)

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

    await timed("add an entry (the REST path's service)", 30, create)
    await timed("quick entry: draft, then save", 30, quick_entry)
    await timed("month summary by category", 30, lambda: summary("category"))
    await timed("month summary by member", 30, lambda: summary("member"))
    await timed("transactions, first page", 30, lambda: page(None))
    async with container.unit_of_work(write=False) as uow:
        deep = None
        for _ in range(200):
            deep = (
                await LedgerService(uow).entries(user.id, family.id, EntryFilter(), limit=200, cursor=deep)
            ).next_cursor
    await timed("transactions, page 800 (by cursor)", 30, lambda: page(deep))

    query = (
        "SELECT kind, category_id, sum(base_amount_minor), count(*) FROM finance_transactions "
        "WHERE family_id = :f AND local_date >= :s AND local_date < :e AND kind IN ('expense', 'income') "
        "GROUP BY kind, category_id"
    )
    explain = "EXPLAIN QUERY PLAN " if url.startswith("sqlite") else "EXPLAIN "
    async with container.unit_of_work(write=False) as uow:
        plan = await uow.session.execute(
            text(explain + query),
            {"f": family.id, "s": start, "e": end},
        )
        print("month summary plan:")
        for line in plan:
            print("   ", " ".join(str(part) for part in line))
    await container.close()
    await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=None)
    parser.add_argument("--rows", type=int, default=100_000)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.url, arguments.rows))
