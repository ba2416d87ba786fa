from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database
from storage.migrate import alembic_config, current_revision, head_revision, upgrade
from storage.models import (
    Account,
    Category,
    ExchangeRate,
    Family,
    FamilyInvite,
    FamilyMember,
    IdempotencyKey,
    KeywordAlias,
    Transaction,
    TransactionEdit,
    User,
)
from storage.repositories.finance import EntryKey, FinanceRepository, LedgerCursor, SummaryRow

NOW = datetime(2026, 5, 20, 12, tzinfo=UTC)
INT64_MAX = 2**63 - 1



@dataclass
class Household:
    family: int
    user: int
    card: int
    cash: int
    food: int
    salary: int


async def make_household(session: AsyncSession, name: str, telegram_id: int) -> Household:
    repo = FinanceRepository(session)
    user = User(telegram_id=telegram_id, first_name=name)
    session.add(user)
    await session.flush()
    family = Family(name=name, base_currency="RUB", time_zone="Europe/Moscow", created_by_id=user.id)
    await repo.add(family)
    await repo.add(FamilyMember(family_id=family.id, user_id=user.id, role="owner"))
    card = Account(family_id=family.id, name="Card", kind="card", currency="RUB", opening_balance_minor=10_000)
    cash = Account(family_id=family.id, name="Cash", kind="cash", currency="USD")
    food = Category(family_id=family.id, kind="expense", name="Food", emoji="🍎")
    salary = Category(family_id=family.id, kind="income", name="Salary")
    for row in (card, cash, food, salary):
        await repo.add(row)
    return Household(family.id, user.id, card.id, cash.id, food.id, salary.id)


def entry(
    h: Household,
    minor: int,
    day: date,
    *,
    kind: str | None = None,
    account: int | None = None,
    category: int | None = None,
    note: str = "",
    group: str | None = None,
) -> Transaction:
    kind = kind or ("expense" if minor < 0 else "income")
    return Transaction(
        family_id=h.family,
        kind=kind,
        account_id=account or h.card,
        category_id=category,
        amount_minor=minor,
        currency="RUB",
        rate_to_base=Decimal(1),
        base_amount_minor=minor,
        local_date=day,
        note=note,
        author_id=h.user,
        transfer_group_id=group,
    )


async def test_migration_goes_down_and_up_again(db: Database) -> None:
    """Down to the revision before finance's (whatever the chain puts there) and back up to the head."""

    def run(connection: Connection, step: str, revision: str) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        getattr(command, step)(config, revision)

    finance = ScriptDirectory.from_config(alembic_config()).get_revision("0006_finance")
    assert finance is not None
    assert isinstance(finance.down_revision, str)
    async with db.write_engine.begin() as connection:
        await connection.run_sync(run, "downgrade", finance.down_revision)
    assert await current_revision(db.read_engine) == finance.down_revision
    async with db.read_engine.connect() as connection:
        tables = set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
    assert "users" in tables
    assert not {t for t in tables if t.startswith("finance_")}
    await upgrade(db.write_engine)
    assert await current_revision(db.read_engine) == head_revision()


async def test_every_lookup_is_scoped_to_its_family(db: Database) -> None:
    async with db.unit_of_work() as session:
        a = await make_household(session, "A", 1)
        b = await make_household(session, "B", 2)
        repo = FinanceRepository(session)
        b_entry = entry(b, -500, date(2026, 5, 1), category=b.food)
        await repo.add(b_entry)
        invite = FamilyInvite(family_id=b.family, code_hash="h" * 64, role="member", expires_at=NOW)
        await repo.add(invite)

        assert await repo.account(b.family, b.card) is not None
        assert await repo.account(a.family, b.card) is None
        assert await repo.category(a.family, b.food) is None
        assert await repo.transaction(a.family, b_entry.id) is None
        assert await repo.transaction(b.family, b_entry.id) is b_entry
        assert await repo.invite(a.family, invite.id) is None
        assert await repo.account_by_name(a.family, "card") is not None
        assert [acc.id for acc in await repo.accounts(a.family)] == [a.card, a.cash]
        assert (await repo.page(a.family)).rows == []
        assert await repo.summary(a.family, date(2026, 5, 1), date(2026, 6, 1)) == []
        assert await repo.member(a.family, b.user) is None


async def test_the_database_refuses_references_into_another_family(db: Database) -> None:
    async with db.unit_of_work() as session:
        a = await make_household(session, "A", 1)
        b = await make_household(session, "B", 2)
    cases = [
        entry(a, -100, date(2026, 5, 1), account=b.card),
        entry(a, -100, date(2026, 5, 1), category=b.food),
        Category(family_id=a.family, kind="expense", name="Sub", parent_id=b.food),
        KeywordAlias(family_id=a.family, keyword="bread", category_id=b.food),
    ]
    for row in cases:
        with pytest.raises(IntegrityError):
            async with db.unit_of_work() as session:
                await FinanceRepository(session).add(row)


@pytest.mark.parametrize(
    ("minor", "kind", "group", "with_category"),
    [
        (100, "expense", None, False),  # expenses are negative
        (-100, "income", None, False),  # incomes are positive
        (0, "expense", None, False),
        (-100, "transfer", None, False),  # a transfer needs its group
        (-100, "transfer", "g", True),  # and no category
        (-100, "refund", None, False),  # unknown kind
    ],
)
async def test_the_ledger_refuses_inconsistent_rows(
    db: Database, minor: int, kind: str, group: str | None, with_category: bool
) -> None:
    async with db.unit_of_work() as session:
        h = await make_household(session, "A", 1)
    with pytest.raises(IntegrityError):
        async with db.unit_of_work() as session:
            row = entry(h, minor, date(2026, 5, 1), kind=kind, group=group, category=h.food if with_category else None)
            await FinanceRepository(session).add(row)


async def test_names_are_unique_regardless_of_case(db: Database) -> None:
    async with db.unit_of_work() as session:
        h = await make_household(session, "A", 1)
        repo = FinanceRepository(session)
        found = await repo.account_by_name(h.family, "  CARD ")
        assert found is not None
        assert found.id == h.card
        assert (await repo.category_by_name(h.family, "expense", "food")) is not None
        assert (await repo.category_by_name(h.family, "income", "food")) is None
        await repo.add(Category(family_id=h.family, kind="income", name="food"))  # another kind: allowed
    for row in (
        Account(family_id=h.family, name="card", kind="card", currency="RUB"),
        Category(family_id=h.family, kind="expense", name=" FOOD"),
        Account(family_id=h.family, name="Gold", kind="gold", currency="XAU"),
    ):
        with pytest.raises(IntegrityError):
            async with db.unit_of_work() as session:
                await FinanceRepository(session).add(row)


async def test_members_and_their_families(db: Database) -> None:
    async with db.unit_of_work() as session:
        a = await make_household(session, "A", 1)
        b = await make_household(session, "B", 2)
        repo = FinanceRepository(session)
        await repo.add(FamilyMember(family_id=b.family, user_id=a.user, role="viewer"))
        families = await repo.families_of(a.user)
        assert [(f.id, role) for f, role in families] == [(a.family, "owner"), (b.family, "viewer")]
        assert [m.user_id for m in await repo.members(b.family)] == [b.user, a.user]
    for row in (
        FamilyMember(family_id=b.family, user_id=a.user, role="member"),  # already a member
        FamilyMember(family_id=a.family, user_id=b.user, role="boss"),
    ):
        with pytest.raises(IntegrityError):
            async with db.unit_of_work() as session:
                await FinanceRepository(session).add(row)


async def test_invite_claims_are_counted_and_bounded(db: Database) -> None:
    async with db.unit_of_work() as session:
        h = await make_household(session, "A", 1)
        repo = FinanceRepository(session)
        live = FamilyInvite(family_id=h.family, code_hash="a" * 64, role="member", max_uses=2, expires_at=NOW)
        expired = FamilyInvite(family_id=h.family, code_hash="b" * 64, role="member", expires_at=NOW)
        revoked = FamilyInvite(family_id=h.family, code_hash="c" * 64, role="admin", expires_at=NOW, revoked_at=NOW)
        for invite in (live, expired, revoked):
            await repo.add(invite)
        before = NOW - timedelta(minutes=1)
        assert [await repo.claim_invite(live.id, before) for _ in range(3)] == [True, True, False]
        assert await repo.claim_invite(expired.id, NOW) is False
        assert await repo.claim_invite(revoked.id, before) is False
        found = await repo.invite_by_hash("a" * 64)
        assert found is not None
        await session.refresh(found)
        assert found.uses == 2
    with pytest.raises(IntegrityError):  # ownership is never handed out by link
        async with db.unit_of_work() as session:
            await FinanceRepository(session).add(
                FamilyInvite(family_id=h.family, code_hash="d" * 64, role="owner", expires_at=NOW)
            )


async def test_exchange_rates_are_exact_and_the_latest_before_a_day_applies(db: Database) -> None:
    precise = Decimal("91.123456789012345678901234567")
    async with db.unit_of_work() as session:
        h = await make_household(session, "A", 1)
        repo = FinanceRepository(session)
        await repo.add(ExchangeRate(family_id=h.family, currency="USD", rate_date=date(2026, 5, 1), rate=precise))
        await repo.add(
            ExchangeRate(family_id=h.family, currency="USD", rate_date=date(2026, 5, 10), rate=Decimal("0.10"))
        )
    async with db.unit_of_work(write=False) as session:
        repo = FinanceRepository(session)
        assert await repo.rate_on(h.family, "USD", date(2026, 4, 30)) is None
        assert await repo.rate_on(h.family, "USD", date(2026, 5, 9)) == precise
        assert str(await repo.rate_on(h.family, "USD", date(2026, 5, 9))) == str(precise)
        assert str(await repo.rate_on(h.family, "USD", date(2026, 6, 1))) == "0.10"
        assert await repo.rate_on(h.family, "EUR", date(2026, 6, 1)) is None
    with pytest.raises(IntegrityError):
        async with db.unit_of_work() as session:
            await FinanceRepository(session).add(
                ExchangeRate(family_id=h.family, currency="USD", rate_date=date(2026, 5, 1), rate=Decimal(90))
            )


@pytest.mark.parametrize("rate", [0.1, Decimal("NaN"), Decimal("Infinity")])
async def test_rates_are_never_floats(db: Database, rate: object) -> None:
    async with db.unit_of_work() as session:
        h = await make_household(session, "A", 1)
    with pytest.raises(StatementError, match="finite Decimal"):
        async with db.unit_of_work() as session:
            await FinanceRepository(session).add(
                ExchangeRate(family_id=h.family, currency="USD", rate_date=date(2026, 5, 1), rate=rate)
            )


async def test_cursor_pages_walk_every_row_once_newest_first(db: Database) -> None:
    async with db.unit_of_work() as session:
        h = await make_household(session, "A", 1)
        repo = FinanceRepository(session)
        # Several rows per day, inserted out of day order, so that order by id alone would be wrong.
        for i in range(23):
            await repo.add(entry(h, -(i + 1), date(2026, 5, 1) + timedelta(days=(i * 7) % 5)))
    async with db.unit_of_work(write=False) as session:
        repo = FinanceRepository(session)
        everything = (
            (
                await session.execute(
                    select(Transaction.id).order_by(Transaction.local_date.desc(), Transaction.id.desc())
                )
            )
            .scalars()
            .all()
        )
        seen: list[int] = []
        cursor: LedgerCursor | None = None
        pages = 0
        while True:
            page = await repo.page(h.family, limit=5, after=cursor)
            seen.extend(row.id for row in page.rows)
            pages += 1
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == list(everything)
        assert pages == 5
        exact = await repo.page(h.family, limit=23)
        assert exact.next_cursor is None
        assert len(exact.rows) == 23


async def test_a_new_row_between_pages_shifts_nothing(db: Database) -> None:
    async with db.unit_of_work() as session:
        h = await make_household(session, "A", 1)
        repo = FinanceRepository(session)
        for i in range(6):
            await repo.add(entry(h, -(i + 1), date(2026, 5, 1 + i)))
        first = await repo.page(h.family, limit=3)
        await repo.add(entry(h, -99, date(2026, 5, 30)))  # newer than everything: belongs before page one
        second = await repo.page(h.family, limit=3, after=first.next_cursor)
        assert [r.local_date.day for r in first.rows + second.rows] == [6, 5, 4, 3, 2, 1]


async def test_page_filters(db: Database) -> None:
    async with db.unit_of_work() as session:
        h = await make_household(session, "A", 1)
        repo = FinanceRepository(session)
        await repo.add(entry(h, -100, date(2026, 4, 30), category=h.food))
        await repo.add(entry(h, -200, date(2026, 5, 1), category=h.food))
        await repo.add(entry(h, -300, date(2026, 5, 31), account=h.cash))
        await repo.add(entry(h, -400, date(2026, 6, 1)))
        may = await repo.page(h.family, date_from=date(2026, 5, 1), date_to=date(2026, 6, 1))
        assert [r.amount_minor for r in may.rows] == [-300, -200]
        assert [r.amount_minor for r in (await repo.page(h.family, account_id=h.cash)).rows] == [-300]
        assert [r.amount_minor for r in (await repo.page(h.family, category_id=h.food)).rows] == [-200, -100]


async def test_month_summary_daily_totals_and_balances(db: Database) -> None:
    async with db.unit_of_work() as session:
        h = await make_household(session, "A", 1)
        other = await make_household(session, "B", 2)
        repo = FinanceRepository(session)
        may = date(2026, 5, 1)
        rows = [
            entry(h, -1000, may, category=h.food),
            entry(h, -250, may + timedelta(days=3), category=h.food),
            entry(h, -70, may + timedelta(days=3)),  # uncategorised
            entry(h, 500_000, may + timedelta(days=4), category=h.salary),
            entry(h, -5, date(2026, 4, 30), category=h.food),  # April
            entry(h, -7, date(2026, 6, 1), category=h.food),  # June: the end is exclusive
            entry(h, -3000, may, kind="transfer", group="t1"),
            entry(h, 3000, may, kind="transfer", account=h.cash, group="t1"),
            entry(other, -999, may, category=other.food),
        ]
        for row in rows:
            await repo.add(row)
        assert await repo.summary(h.family, may, date(2026, 6, 1)) == [
            SummaryRow("expense", h.food, -1250, 2),
            SummaryRow("expense", None, -70, 1),
            SummaryRow("income", h.salary, 500_000, 1),
        ]
        assert await repo.daily_totals(h.family, may, date(2026, 6, 1), kind="expense") == [
            (may, -1000),
            (may + timedelta(days=3), -320),
        ]
        assert await repo.balances(h.family) == {
            h.card: 10_000 - 1000 - 250 - 70 + 500_000 - 5 - 7 - 3000,
            h.cash: 3000,
        }
        legs = await repo.transfer_legs(h.family, "t1")
        assert [leg.amount_minor for leg in legs] == [-3000, 3000]
        assert await repo.transfer_legs(other.family, "t1") == []


async def test_amounts_use_all_64_bits(db: Database) -> None:
    async with db.unit_of_work() as session:
        h = await make_household(session, "A", 1)
        row = entry(h, INT64_MAX, date(2026, 5, 1))
        await FinanceRepository(session).add(row)
        row_id = row.id
    async with db.unit_of_work(write=False) as session:
        found = await FinanceRepository(session).transaction(h.family, row_id)
        assert found is not None
        assert found.amount_minor == INT64_MAX


async def test_aliases_notes_and_entry_keys_for_the_domain(db: Database) -> None:
    async with db.unit_of_work() as session:
        h = await make_household(session, "A", 1)
        repo = FinanceRepository(session)
        await repo.add(KeywordAlias(family_id=h.family, keyword="bread", category_id=h.food))
        await repo.add(entry(h, -100, date(2026, 5, 1), category=h.food, note="bread and milk"))
        await repo.add(entry(h, -200, date(2026, 5, 2), note="uncategorised"))
        await repo.add(entry(h, -300, date(2026, 5, 3), category=h.food))  # no note
        assert await repo.aliases(h.family) == {"bread": h.food}
        assert await repo.categorised_notes(h.family) == [("bread and milk", h.food)]
        assert sorted(await repo.entry_keys(h.family, date(2026, 5, 1), date(2026, 5, 3)), key=lambda k: k.note) == [
            EntryKey(date(2026, 5, 1), -100, "RUB", "bread and milk"),
            EntryKey(date(2026, 5, 2), -200, "RUB", "uncategorised"),
        ]
    with pytest.raises(IntegrityError):
        async with db.unit_of_work() as session:
            await FinanceRepository(session).add(KeywordAlias(family_id=h.family, keyword="bread", category_id=h.food))


async def test_idempotency_keys_and_edit_history(db: Database) -> None:
    async with db.unit_of_work() as session:
        h = await make_household(session, "A", 1)
        repo = FinanceRepository(session)
        row = entry(h, -100, date(2026, 5, 1), note="coffee")
        await repo.add(row)
        key = IdempotencyKey(user_id=h.user, key=str(uuid.uuid4()), family_id=h.family, transaction_id=row.id)
        await repo.add(key)
        before = {"amount_minor": -100, "note": "coffee", "rate_to_base": "1"}
        after = {"amount_minor": -150, "note": "coffee и круассан"}
        await repo.add(
            TransactionEdit(
                family_id=h.family, transaction_id=row.id, action="update", user_id=h.user, before=before, after=after
            )
        )
        found = await repo.idempotency_key(h.user, key.key)
        assert found is not None
        assert found.transaction_id == row.id
        assert await repo.idempotency_key(h.user + 1, key.key) is None
        await repo.delete_transaction(row)
        row_id, key_value = row.id, key.key
    async with db.unit_of_work(write=False) as session:
        repo = FinanceRepository(session)
        kept = await repo.idempotency_key(h.user, key_value)
        assert kept is not None
        assert kept.transaction_id is None  # the key stays used, its transaction is gone
        edits = await repo.edits(h.family, row_id)
        assert [(e.action, e.before, e.after) for e in edits] == [("update", before, after)]
    with pytest.raises(IntegrityError):
        async with db.unit_of_work() as session:
            await FinanceRepository(session).add(IdempotencyKey(user_id=h.user, key=key_value, family_id=h.family))
    async with db.unit_of_work() as session:
        repo = FinanceRepository(session)
        assert await repo.purge_idempotency_keys(NOW - timedelta(days=3650)) == 0
        assert await repo.purge_idempotency_keys(datetime.now(UTC) + timedelta(seconds=1)) == 1


async def test_deleting_a_family_deletes_everything_it_owns(db: Database) -> None:
    async with db.unit_of_work() as session:
        h = await make_household(session, "A", 1)
        keep = await make_household(session, "B", 2)
        repo = FinanceRepository(session)
        sub = Category(family_id=h.family, kind="expense", name="Bakery", parent_id=h.food)
        await repo.add(sub)
        await repo.add(KeywordAlias(family_id=h.family, keyword="bread", category_id=sub.id))
        await repo.add(entry(h, -100, date(2026, 5, 1), category=sub.id))
        await repo.add(entry(keep, -100, date(2026, 5, 1)))
        await repo.add(ExchangeRate(family_id=h.family, currency="USD", rate_date=date(2026, 5, 1), rate=Decimal(90)))
    async with db.unit_of_work() as session:
        family = await FinanceRepository(session).family(h.family)
        assert family is not None
        await session.delete(family)
    async with db.unit_of_work(write=False) as session:
        counts = {
            model.__tablename__: (await session.execute(select(func.count()).select_from(model))).scalar_one()
            for model in (Family, FamilyMember, Account, Category, KeywordAlias, ExchangeRate, Transaction)
        }
    assert counts == {
        "finance_families": 1,
        "finance_members": 1,
        "finance_accounts": 2,
        "finance_categories": 2,
        "finance_keyword_aliases": 0,
        "finance_exchange_rates": 0,
        "finance_transactions": 1,
    }


async def test_preferences_member_summaries_and_moving_a_user(db: Database) -> None:
    async with db.unit_of_work(write=True) as session:
        repo = FinanceRepository(session)
        ann = await make_household(session, "Ann", 201)
        bob = await make_household(session, "Bob", 202)
        await repo.set_active_family(ann.user, ann.family)
        await repo.set_active_family(ann.user, bob.family)
        preference = await repo.preference(ann.user)
        assert preference is not None
        assert preference.active_family_id == bob.family
        for row in (
            entry(ann, -500, date(2026, 3, 2)),
            entry(ann, -250, date(2026, 3, 2)),
            entry(ann, 900, date(2026, 3, 3)),
        ):
            await repo.add(row)
        by_day = await repo.summary_by(ann.family, date(2026, 3, 1), date(2026, 4, 1), by="day")
        assert by_day == [(date(2026, 3, 2), "expense", -750, 2), (date(2026, 3, 3), "income", 900, 1)]
        by_member = await repo.summary_by(ann.family, date(2026, 3, 1), date(2026, 4, 1), by="member")
        assert by_member == [(ann.user, "expense", -750, 2), (ann.user, "income", 900, 1)]
        # Bob's family never shows Ann's entries; then Ann's records are credited to Bob.
        assert await repo.summary_by(bob.family, date(2026, 3, 1), date(2026, 4, 1), by="day") == []
        await repo.move_user(ann.user, bob.user)
        moved = await repo.summary_by(ann.family, date(2026, 3, 1), date(2026, 4, 1), by="member")
        assert {author for author, *_ in moved} == {bob.user}
        assert await repo.last_authored(ann.family, bob.user) is not None
        assert await repo.last_authored(ann.family, ann.user) is None
