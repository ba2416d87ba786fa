"""Linking a bare Telegram user into an email account moves its finance records, or refuses when they cannot merge."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.container import Container
from core.errors import Conflict
from core.finance.families import FamilyService
from core.finance.ledger import EntryFilter, LedgerService
from core.identity.service import IdentityService
from core.users.dto import TelegramProfile
from tests.core.finance.test_services import first_account, join, new_user, personal
from tests.core.identity.test_linking_rules import email_user


async def link(container: Container, target: int, telegram_id: int) -> None:
    async with container.unit_of_work(write=True) as uow:
        code = (await IdentityService(uow).issue_code_for_account(target)).code
    async with container.unit_of_work(write=True) as uow:
        await IdentityService(uow).link_from_start(code=code, profile=TelegramProfile(telegram_id, "T"))


async def test_a_bare_users_family_and_entries_move_to_the_surviving_account(container: Container) -> None:
    bare = await new_user(container, 777, "Tg")
    family = await personal(container, bare)
    cash = await first_account(container, bare, family)
    async with container.unit_of_work(write=True) as uow:
        entry = await LedgerService(uow).create(bare, family, kind="expense", account_id=cash, amount=Decimal(9))
    target = await email_user(container, "ann@example.org")
    await link(container, target, 777)
    async with container.unit_of_work(write=False) as uow:
        mine = await FamilyService(uow).list_mine(target)
        moved = await LedgerService(uow).entries(target, None, EntryFilter())
        history = await LedgerService(uow).history(target, family, entry.id)
    assert [(f.id, f.role, f.active) for f in mine] == [(family, "owner", True)]
    assert [(e.id, e.author_id) for e in moved.items] == [(entry.id, target)]
    assert history[0]["user_id"] == target


async def test_both_accounts_in_one_family_refuse_the_link(container: Container) -> None:
    target = await email_user(container, "ann@example.org")
    family = await personal(container, target)
    bare = await new_user(container, 778, "Tg")
    await join(container, target, family, bare, "member")
    with pytest.raises(Conflict) as refused:
        await link(container, target, 778)
    assert refused.value.code == "finance.link_conflict"
    # Nothing moved, nothing dropped: both are still members.
    async with container.unit_of_work(write=False) as uow:
        assert len(await FamilyService(uow).members(target, family)) == 2
