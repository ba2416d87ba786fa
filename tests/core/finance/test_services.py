"""The finance services on a real database (SQLite and PostgreSQL): families, roles, invites, the ledger, reports."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from decimal import Decimal

import pytest

from core.clock import ManualClock
from core.container import Container, UnitOfWork, WriteNeeded
from core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from core.finance.csv_io import ColumnMapping, ImportOptions
from core.finance.dto import FamilyDTO
from core.finance.families import FamilyService
from core.finance.jobs import purge_idempotency_keys
from core.finance.ledger import EntryFilter, LedgerService
from core.finance.reports import ReportService
from core.users.dto import TelegramProfile
from core.users.service import UserService


async def new_user(container: Container, telegram_id: int, name: str = "Ann") -> int:
    async with container.unit_of_work(write=True) as uow:
        user, _ = await UserService(uow).ensure_telegram_user(TelegramProfile(telegram_id=telegram_id, first_name=name))
    return user.id


async def personal(container: Container, user_id: int, language: str = "en") -> int:
    async with container.unit_of_work(write=True) as uow:
        uow.language = language
        return (await FamilyService(uow).active(user_id)).id


async def first_account(container: Container, user_id: int, family_id: int) -> int:
    async with container.unit_of_work(write=False) as uow:
        return (await LedgerService(uow).accounts(user_id, family_id))[0].id


async def join(container: Container, owner: int, family_id: int, user_id: int, role: str) -> None:
    async with container.unit_of_work(write=True) as uow:
        issued = await FamilyService(uow).invite(owner, family_id, role=role)
    async with container.unit_of_work(write=True) as uow:
        await FamilyService(uow).accept(user_id, issued.code)


async def test_first_use_makes_a_personal_family_in_the_users_language(container: Container) -> None:
    ann = await new_user(container, 1)
    # A reading unit cannot make it: it asks to be run again as a writing one, and has written nothing.
    with pytest.raises(WriteNeeded):
        async with container.unit_of_work(write=False) as uow:
            await FamilyService(uow).active(ann)
    attempts: list[bool] = []

    async def first_use(uow: UnitOfWork) -> FamilyDTO:
        attempts.append(uow.write)
        uow.language = "ru"
        return await FamilyService(uow).active(ann)

    made = await container.run(first_use, write=False)
    assert attempts == [False, True]
    # Once it exists, reads stay reads.
    again = await container.run(first_use, write=False)
    assert attempts == [False, True, False]
    async with container.unit_of_work(write=False) as uow:
        categories = await LedgerService(uow).categories(ann, None)
        accounts = await LedgerService(uow).accounts(ann, None)
        mine = await FamilyService(uow).list_mine(ann)
    assert again == made
    assert (made.role, made.base_currency, made.name) == ("owner", "USD", "Моя семья")
    assert [f.id for f in mine] == [made.id]
    assert "Продукты" in {c.name for c in categories}
    assert [a.name for a in accounts] == ["Наличные"]


async def test_simultaneous_first_uses_make_one_family(container: Container) -> None:
    ann = await new_user(container, 1)

    async def first_use(uow: UnitOfWork) -> FamilyDTO:
        return await FamilyService(uow).active(ann)

    made = await asyncio.gather(*(container.run(first_use, write=False) for _ in range(10)))
    assert len({family.id for family in made}) == 1
    async with container.unit_of_work(write=False) as uow:
        assert len(await FamilyService(uow).list_mine(ann)) == 1


async def test_first_use_takes_the_saved_language_and_the_chosen_zone(container: Container) -> None:
    ann = await new_user(container, 1)
    async with container.unit_of_work(write=True) as uow:
        await UserService(uow).set_language(ann, "ru")
        await UserService(uow).set_time_zone(ann, "Asia/Tokyo")
    async with container.unit_of_work(write=True) as uow:
        made = await FamilyService(uow).active(ann)
    assert (made.name, made.time_zone) == ("Моя семья", "Asia/Tokyo")


async def test_several_families_and_the_active_one(container: Container) -> None:
    ann = await new_user(container, 1)
    first = await personal(container, ann)
    async with container.unit_of_work(write=True) as uow:
        second = await FamilyService(uow).create(ann, name="Work", base_currency="EUR", time_zone="Europe/Berlin")
    async with container.unit_of_work(write=True) as uow:
        mine = await FamilyService(uow).list_mine(ann)
        assert [(f.id, f.active) for f in mine] == [(first, False), (second.id, True)]
        await FamilyService(uow).switch(ann, first)
    async with container.unit_of_work(write=False) as uow:
        active = await FamilyService(uow).active(ann)
    assert active is not None
    assert active.id == first


async def test_other_familys_objects_are_not_found(container: Container) -> None:
    ann, bob = await new_user(container, 1), await new_user(container, 2, "Bob")
    ann_family = await personal(container, ann)
    await personal(container, bob)
    account = await first_account(container, ann, ann_family)
    async with container.unit_of_work(write=True) as uow:
        entry = await LedgerService(uow).create(ann, ann_family, kind="expense", account_id=account, amount=Decimal(5))
        issued = await FamilyService(uow).invite(ann, ann_family)
        category = (await LedgerService(uow).categories(ann, ann_family))[0].id
    calls: list[Callable[[UnitOfWork], Awaitable[object]]] = [
        lambda uow: FamilyService(uow).get(bob, ann_family),
        lambda uow: FamilyService(uow).members(bob, ann_family),
        lambda uow: FamilyService(uow).revoke_invite(bob, ann_family, issued.invite.id),
        lambda uow: LedgerService(uow).get(bob, ann_family, entry.id),
        lambda uow: LedgerService(uow).account(bob, ann_family, account),
        lambda uow: LedgerService(uow).category(bob, ann_family, category),
        lambda uow: LedgerService(uow).delete(bob, ann_family, entry.id),
        # Bob's own family, with Ann's ids: still not found.
        lambda uow: LedgerService(uow).get(bob, None, entry.id),
        lambda uow: LedgerService(uow).account(bob, None, account),
        lambda uow: LedgerService(uow).category(bob, None, category),
        lambda uow: LedgerService(uow).create(bob, None, kind="expense", account_id=account, amount=Decimal(1)),
        lambda uow: FamilyService(uow).revoke_invite(bob, None, issued.invite.id),
    ]
    for call in calls:
        with pytest.raises(NotFound):
            async with container.unit_of_work(write=True) as uow:
                await call(uow)


async def test_roles(container: Container) -> None:
    ann, bob, eve = await new_user(container, 1), await new_user(container, 2, "Bob"), await new_user(container, 3)
    family = await personal(container, ann)
    await join(container, ann, family, bob, "member")
    await join(container, ann, family, eve, "viewer")
    account = await first_account(container, ann, family)
    async with container.unit_of_work(write=True) as uow:
        anns = await LedgerService(uow).create(ann, family, kind="expense", account_id=account, amount=Decimal(3))
        bobs = await LedgerService(uow).create(bob, family, kind="expense", account_id=account, amount=Decimal(4))
    for call in (
        lambda uow: LedgerService(uow).create(eve, family, kind="expense", account_id=account, amount=Decimal(1)),
        lambda uow: LedgerService(uow).delete(bob, family, anns.id),
        lambda uow: LedgerService(uow).update(eve, family, bobs.id, note="x"),
        lambda uow: LedgerService(uow).create_account(bob, family, name="Card"),
        lambda uow: FamilyService(uow).invite(bob, family),
        lambda uow: FamilyService(uow).set_role(bob, family, eve, "admin"),
    ):
        with pytest.raises(Forbidden):
            async with container.unit_of_work(write=True) as uow:
                await call(uow)
    async with container.unit_of_work(write=True) as uow:
        # The author edits their own; an owner edits anyone's; history keeps both.
        await LedgerService(uow).update(bob, family, bobs.id, note="lunch", amount=Decimal(6))
        await LedgerService(uow).update(ann, family, bobs.id, note="team lunch")
        history = await LedgerService(uow).history(ann, family, bobs.id)
        assert [h["action"] for h in history] == ["create", "update", "update"]
        assert history[1]["before"]["amount_minor"] == -400
        assert history[1]["after"]["amount_minor"] == -600
        await FamilyService(uow).set_role(ann, family, eve, "member")
        # Eve may write now.
        await LedgerService(uow).create(eve, family, kind="expense", account_id=account, amount=Decimal(1))


async def test_last_owner_cannot_leave_until_handing_over(container: Container) -> None:
    ann, bob = await new_user(container, 1), await new_user(container, 2, "Bob")
    family = await personal(container, ann)
    await join(container, ann, family, bob, "admin")
    with pytest.raises(Conflict):
        async with container.unit_of_work(write=True) as uow:
            await FamilyService(uow).remove(ann, family, ann)
    with pytest.raises(Forbidden):
        async with container.unit_of_work(write=True) as uow:
            await FamilyService(uow).remove(bob, family, ann)
    async with container.unit_of_work(write=True) as uow:
        await FamilyService(uow).set_role(ann, family, bob, "owner")
        await FamilyService(uow).remove(ann, family, ann)
    with pytest.raises(NotFound):
        async with container.unit_of_work(write=False) as uow:
            await FamilyService(uow).get(ann, family)
    async with container.unit_of_work(write=False) as uow:
        assert [m.role for m in await FamilyService(uow).members(bob, family)] == ["owner"]


async def test_invites_reused_expired_revoked(container: Container, clock: ManualClock) -> None:
    container.links.bot_username = "unibot_bot"
    ids = [await new_user(container, i) for i in range(1, 6)]
    owner = ids[0]
    family = await personal(container, owner)
    async with container.unit_of_work(write=True) as uow:
        once = await FamilyService(uow).invite(owner, family)
        twice = await FamilyService(uow).invite(owner, family, max_uses=2, ttl=timedelta(hours=1))
        revoked = await FamilyService(uow).invite(owner, family)
        await FamilyService(uow).revoke_invite(owner, family, revoked.invite.id)
    assert once.link is not None
    assert once.link.endswith(f"?start=join_{once.code}")
    async with container.unit_of_work(write=True) as uow:
        joined = await FamilyService(uow).accept(ids[1], once.code)
    assert joined.id == family
    assert joined.role == "member"
    for code, user in ((once.code, ids[2]), (revoked.code, ids[2]), ("nonsense", ids[2])):
        with pytest.raises(NotFound):
            async with container.unit_of_work(write=True) as uow:
                await FamilyService(uow).accept(user, code)
    async with container.unit_of_work(write=True) as uow:
        await FamilyService(uow).accept(ids[2], twice.code)
    clock.advance(7200)
    with pytest.raises(NotFound):
        async with container.unit_of_work(write=True) as uow:
            await FamilyService(uow).accept(ids[3], twice.code)
    async with container.unit_of_work(write=False) as uow:
        listed = await FamilyService(uow).invites(owner, family)
    assert [(i.uses, i.revoked) for i in listed] == [(1, False), (1, False), (0, True)]


async def test_balances_transfers_rates_and_undo(container: Container, clock: ManualClock) -> None:
    ann = await new_user(container, 1)
    family = await personal(container, ann)
    cash = await first_account(container, ann, family)
    async with container.unit_of_work(write=True) as uow:
        ledger = LedgerService(uow)
        euro = await ledger.create_account(ann, family, name="Euro card", kind="card", currency="EUR")
        with pytest.raises(ValidationFailed):
            await ledger.create(ann, family, kind="expense", account_id=euro.id, amount=Decimal(1))
        await ledger.set_rate(ann, family, "EUR", date(2000, 1, 1), Decimal("1.10"))
        await ledger.create(ann, family, kind="income", account_id=cash, amount=Decimal("100.50"))
        spent = await ledger.create(ann, family, kind="expense", account_id=euro.id, amount=Decimal("10"))
        assert spent.base_amount_minor == -1100
        assert spent.rate_to_base == Decimal("1.10")
        moved = await ledger.transfer(
            ann, family, from_account_id=cash, to_account_id=euro.id, amount=Decimal(22), to_amount=Decimal(20)
        )
        assert (moved.out_leg.amount_minor, moved.in_leg.amount_minor) == (-2200, 2000)
        balances = {a.id: a.balance_minor for a in await ledger.accounts(ann, family)}
        assert balances == {cash: 10050 - 2200, euro.id: -1000 + 2000}
        with pytest.raises(ValidationFailed):
            await ledger.create(ann, family, kind="expense", account_id=cash, amount=Decimal("0.001"))
    async with container.unit_of_work(write=True) as uow:
        undone = await LedgerService(uow).undo_last(ann, family)
    assert undone is not None
    assert undone.kind == "transfer"
    clock.advance(86400)
    async with container.unit_of_work(write=True) as uow:
        assert await LedgerService(uow).undo_last(ann, family) is None
        balances = {a.id: a.balance_minor for a in await LedgerService(uow).accounts(ann, family)}
    assert balances == {cash: 10050, euro.id: -1000}


async def test_idempotent_create_under_retries(container: Container, clock: ManualClock) -> None:
    ann = await new_user(container, 1)
    family = await personal(container, ann)
    cash = await first_account(container, ann, family)

    async def create(key: str, amount: int = 7) -> int:
        async with container.unit_of_work(write=True) as uow:
            entry = await LedgerService(uow).create(
                ann,
                family,
                kind="expense",
                account_id=cash,
                amount=Decimal(amount),
                idempotency_key=key,
                request_hash=str(amount),
            )
            return entry.id

    ids = await asyncio.gather(*(create("k1") for _ in range(5)))
    assert len(set(ids)) == 1
    with pytest.raises(Conflict):
        await create("k1", amount=8)
    async with container.unit_of_work(write=False) as uow:
        page = await LedgerService(uow).entries(ann, family, EntryFilter())
    assert len(page.items) == 1
    # Old keys are forgotten by the maintenance job.
    clock.advance(3 * 86400)
    assert await purge_idempotency_keys(container) == 1


async def test_two_members_adding_at_once(container: Container) -> None:
    ann, bob = await new_user(container, 1), await new_user(container, 2, "Bob")
    family = await personal(container, ann)
    await join(container, ann, family, bob, "member")
    cash = await first_account(container, ann, family)

    async def add(user: int, n: int) -> None:
        async with container.unit_of_work(write=True) as uow:
            await LedgerService(uow).create(user, family, kind="expense", account_id=cash, amount=Decimal(n))

    await asyncio.gather(*(add(ann if i % 2 else bob, i) for i in range(1, 11)))
    async with container.unit_of_work(write=False) as uow:
        accounts = await LedgerService(uow).accounts(ann, family)
    assert accounts[0].balance_minor == -sum(range(1, 11)) * 100


async def test_filters_and_cursor_pages(container: Container) -> None:
    ann = await new_user(container, 1)
    family = await personal(container, ann)
    cash = await first_account(container, ann, family)
    async with container.unit_of_work(write=True) as uow:
        for day in range(1, 8):
            await LedgerService(uow).create(
                ann,
                family,
                kind="expense",
                account_id=cash,
                amount=Decimal(day),
                local_day=date(2026, 11, day),
                note=f"Coffee {day}" if day % 2 else "taxi",
            )
    seen: list[int] = []
    cursor = None
    while True:
        async with container.unit_of_work(write=False) as uow:
            page = await LedgerService(uow).entries(ann, family, EntryFilter(), limit=3, cursor=cursor)
        seen += [e.local_date.day for e in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [7, 6, 5, 4, 3, 2, 1]
    async with container.unit_of_work(write=False) as uow:
        found = await LedgerService(uow).entries(
            ann, family, EntryFilter(text="coffee", date_from=date(2026, 11, 2), oldest_first=True)
        )
        assert [e.local_date.day for e in found.items] == [3, 5, 7]
        with pytest.raises(ValidationFailed):
            await LedgerService(uow).entries(ann, family, EntryFilter(), cursor="!!")


async def test_categories_merge_and_archive(container: Container) -> None:
    ann = await new_user(container, 1)
    family = await personal(container, ann)
    cash = await first_account(container, ann, family)
    async with container.unit_of_work(write=True) as uow:
        ledger = LedgerService(uow)
        cats = {c.name: c.id for c in await ledger.categories(ann, family)}
        await ledger.create(ann, family, kind="expense", account_id=cash, amount=Decimal(2), category_id=cats["Cafe"])
        await ledger.update_category(ann, family, cats["Groceries"], name="Food")
        target, moved = await ledger.merge_categories(ann, family, cats["Cafe"], cats["Groceries"])
        assert (target.name, moved) == ("Food", 1)
        names = {c.name for c in await ledger.categories(ann, family)}
        assert "Cafe" not in names
        assert "Food" in names
        with pytest.raises(ValidationFailed):
            await ledger.merge_categories(ann, family, cats["Salary"], cats["Groceries"])


async def test_summary_export_and_import(container: Container) -> None:
    ann, bob = await new_user(container, 1), await new_user(container, 2, "Bob")
    family = await personal(container, ann)
    await join(container, ann, family, bob, "member")
    cash = await first_account(container, ann, family)
    async with container.unit_of_work(write=True) as uow:
        ledger = LedgerService(uow)
        cats = {c.name: c.id for c in await ledger.categories(ann, family)}
        day = date(2026, 11, 5)
        await ledger.create(
            ann,
            family,
            kind="expense",
            account_id=cash,
            amount=Decimal(250),
            category_id=cats["Cafe"],
            local_day=day,
            note="coffee",
        )
        await ledger.create(
            bob,
            family,
            kind="expense",
            account_id=cash,
            amount=Decimal(50),
            category_id=cats["Cafe"],
            local_day=day,
            note="tea",
        )
        await ledger.create(
            ann,
            family,
            kind="income",
            account_id=cash,
            amount=Decimal(1000),
            category_id=cats["Salary"],
            local_day=day,
            note="salary",
        )
    start, end = date(2026, 11, 1), date(2026, 12, 1)
    async with container.unit_of_work(write=False) as uow:
        reports = ReportService(uow)
        by_category = await reports.summary(ann, family, start, end)
        by_member = await reports.summary(bob, family, start, end, group_by="member")
        by_day = await reports.summary(bob, family, start, end, group_by="day")
        png = await reports.chart(ann, family, start, end)
        csv_text = await reports.export_csv(ann, family, start, end)
    assert (by_category.income_minor, by_category.expense_minor) == (100000, -30000)
    assert [(g.label, g.total_minor) for g in by_category.groups if g.kind == "expense"] == [("☕ Cafe", -30000)]
    assert [(g.label, g.total_minor, g.count) for g in by_member.groups if g.kind == "expense"] == [
        ("Ann", -25000, 1),
        ("Bob", -5000, 1),
    ]
    assert [(g.key, g.kind, g.total_minor, g.count) for g in by_day.groups] == [
        ("2026-11-05", "expense", -30000, 2),
        ("2026-11-05", "income", 100000, 1),
    ]
    assert png.startswith(b"\x89PNG")
    lines = csv_text.strip().splitlines()
    assert len(lines) == 4
    assert "2026-11-05,Cash,Cafe,expense,-250.00,USD" in lines[1]
    options = ImportOptions(
        mapping=ColumnMapping(date="date", amount="amount", note="note", category="category"),
        date_format="%Y-%m-%d",
        currency="USD",
    )
    extra = csv_text + "2026-11-06,Cash,Cafe,expense,-3.50,USD,,,bagel,Ann\r\nbad,Cash,,expense,1,USD,,,x,Ann\r\n"
    async with container.unit_of_work(write=True) as uow:
        dry = await ReportService(uow).import_csv(ann, family, extra, account_id=cash, options=options, dry_run=True)
        assert (dry.created, len(dry.planned), len(dry.duplicates), len(dry.errors)) == (0, 1, 3, 1)
        done = await ReportService(uow).import_csv(ann, family, extra, account_id=cash, options=options, dry_run=False)
        assert done.created == 1
        [bagel] = (await LedgerService(uow).entries(ann, family, EntryFilter(text="bagel"))).items
        assert (bagel.amount_minor, bagel.category_id, bagel.source, bagel.author_id) == (
            -350,
            cats["Cafe"],
            "import",
            ann,
        )
        assert [h["action"] for h in await LedgerService(uow).history(ann, family, bagel.id)] == ["create"]
    async with container.unit_of_work(write=True) as uow:
        again = await ReportService(uow).import_csv(ann, family, extra, account_id=cash, options=options, dry_run=False)
    assert (again.created, len(again.duplicates)) == (0, 4)
    with pytest.raises(NotFound):
        async with container.unit_of_work(write=False) as uow:
            await ReportService(uow).summary(await new_user(container, 9), family, start, end)


async def test_the_same_new_account_twice_at_once_is_one_account_and_one_conflict(container: Container) -> None:
    ann = await new_user(container, 1)
    family = await personal(container, ann)

    async def create() -> str:
        try:
            async with container.unit_of_work(write=True) as uow:
                await LedgerService(uow).create_account(ann, family, name="Savings", kind="savings")
        except Conflict:
            return "conflict"
        return "created"

    assert sorted(await asyncio.gather(create(), create(), create())) == ["conflict", "conflict", "created"]


async def test_a_one_time_invite_taken_by_two_at_once_admits_one(container: Container) -> None:
    ids = [await new_user(container, i) for i in range(1, 5)]
    family = await personal(container, ids[0])
    async with container.unit_of_work(write=True) as uow:
        issued = await FamilyService(uow).invite(ids[0], family)

    async def accept(user: int) -> str:
        try:
            async with container.unit_of_work(write=True) as uow:
                await FamilyService(uow).accept(user, issued.code)
        except NotFound:
            return "refused"
        return "joined"

    assert sorted(await asyncio.gather(*(accept(user) for user in ids[1:]))) == ["joined", "refused", "refused"]
    async with container.unit_of_work(write=False) as uow:
        assert len(await FamilyService(uow).members(ids[0], family)) == 2


async def test_rates_default_to_the_familys_today_and_list_each_currencys_latest(
    container: Container, clock: ManualClock
) -> None:
    ann, bob = await new_user(container, 1), await new_user(container, 2, "Bob")
    async with container.unit_of_work(write=True) as uow:
        far = await FamilyService(uow).create(ann, name="Far", base_currency="RUB", time_zone="Asia/Vladivostok")
        family = far.id
    await join(container, ann, family, bob, "member")
    # 20:00 UTC on 1 January is already 2 January in Vladivostok.
    clock.set(clock.now().replace(hour=20))
    async with container.unit_of_work(write=True) as uow:
        ledger = LedgerService(uow)
        saved = await ledger.set_rate(ann, family, "USD", None, Decimal("92.5"))
        assert (saved.currency, saved.base_currency, saved.rate, saved.rate_date) == (
            "USD",
            "RUB",
            Decimal("92.5"),
            date(2030, 1, 2),
        )
        await ledger.set_rate(ann, family, "USD", date(2029, 12, 1), Decimal("90"))
        await ledger.set_rate(ann, family, "EUR", date(2029, 12, 1), Decimal("100.25"))
        # A second rate for the same day corrects the first.
        await ledger.set_rate(ann, family, "USD", date(2030, 1, 2), Decimal("93"))
        await ledger.set_rate(ann, family, "USD", date(2030, 1, 2), Decimal("92.5"))
        with pytest.raises(ValidationFailed):
            await ledger.set_rate(ann, family, "RUB", None, Decimal("1"))
    # Setting a rate is an admin's; a member reads them.
    async with container.unit_of_work(write=True) as uow:
        with pytest.raises(Forbidden):
            await LedgerService(uow).set_rate(bob, family, "USD", None, Decimal("1"))
    async with container.unit_of_work(write=False) as uow:
        listed = await LedgerService(uow).latest_rates(bob, None)
    assert (listed.family_id, listed.base_currency) == (family, "RUB")
    assert [(r.currency, r.rate, r.rate_date) for r in listed.items] == [
        ("EUR", Decimal("100.25"), date(2029, 12, 1)),
        ("USD", Decimal("92.5"), date(2030, 1, 2)),
    ]
    # Another family's rates are not reachable through membership.
    eve = await new_user(container, 3, "Eve")
    await personal(container, eve)
    async with container.unit_of_work(write=False) as uow:
        with pytest.raises(NotFound):
            await LedgerService(uow).latest_rates(eve, family)
        assert (await LedgerService(uow).latest_rates(eve, None)).items == []
