"""Property: for any sequence of creates, edits, deletes and transfers through the services, every account's balance
is its opening balance plus the sum of its entries, and the family's ledger holds exactly the entries left."""

from __future__ import annotations

import asyncio
import tempfile
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.clock import ManualClock
from core.finance.families import FamilyService
from core.finance.ledger import EntryFilter, LedgerService
from storage.kv import MemoryStore
from tests.core.finance.test_services import new_user
from tests.helpers.app import make_container

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(100000), places=2, allow_nan=False)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.sampled_from(["expense", "income"]), st.integers(0, 2), amounts),
        st.tuples(st.just("transfer"), st.integers(0, 2), st.integers(0, 2), amounts),
        st.tuples(st.just("edit"), st.integers(0, 50), amounts),
        st.tuples(st.just("delete"), st.integers(0, 50)),
    ),
    max_size=25,
)


async def scenario(ops: list[tuple[object, ...]], folder: Path) -> None:
    container = await make_container(folder, MemoryStore(), ManualClock())
    try:
        ann = await new_user(container, 1)
        async with container.unit_of_work(write=True) as uow:
            family = (await FamilyService(uow).active(ann)).id
            ledger = LedgerService(uow)
            accounts = [(await ledger.accounts(ann, family))[0].id]
            for name, opening in (("Card", "12.34"), ("Jar", "0")):
                accounts.append(
                    (await ledger.create_account(ann, family, name=name, opening_balance=Decimal(opening))).id
                )
        live: list[int] = []
        for op in ops:
            async with container.unit_of_work(write=True) as uow:
                ledger = LedgerService(uow)
                if op[0] == "create":
                    _, kind, index, amount = op
                    entry = await ledger.create(
                        ann, family, kind=str(kind), account_id=accounts[int(str(index))], amount=Decimal(str(amount))
                    )
                    live.append(entry.id)
                elif op[0] == "transfer":
                    _, source, target, amount = op
                    if source == target:
                        continue
                    moved = await ledger.transfer(
                        ann,
                        family,
                        from_account_id=accounts[int(str(source))],
                        to_account_id=accounts[int(str(target))],
                        amount=Decimal(str(amount)),
                    )
                    live.append(moved.out_leg.id)
                elif live and op[0] == "edit":
                    chosen = live[int(str(op[1])) % len(live)]
                    if (await ledger.get(ann, family, chosen)).kind != "transfer":
                        await ledger.update(ann, family, chosen, amount=Decimal(str(op[2])))
                elif live and op[0] == "delete":
                    await ledger.delete(ann, family, live.pop(int(str(op[1])) % len(live)))
        async with container.unit_of_work(write=False) as uow:
            ledger = LedgerService(uow)
            balances = {a.id: a for a in await ledger.accounts(ann, family)}
            entries = (await ledger.entries(ann, family, EntryFilter(), limit=200)).items
        for account_id, account in balances.items():
            moved_minor = sum(e.amount_minor for e in entries if e.account_id == account_id)
            assert account.balance_minor == account.opening_balance_minor + moved_minor
        # Transfers never create or destroy money; expenses and incomes are the only net change.
        total = sum(a.balance_minor - a.opening_balance_minor for a in balances.values())
        assert total == sum(e.amount_minor for e in entries if e.kind != "transfer")
        assert len({e.id for e in entries if e.kind != "transfer"}) + len(
            {e.transfer_group_id for e in entries if e.kind == "transfer"}
        ) == len(live)
    finally:
        await container.close()
        await container.db.dispose()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
def test_balances_are_the_sum_of_their_entries(ops: list[tuple[object, ...]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(scenario(ops, Path(folder)))
