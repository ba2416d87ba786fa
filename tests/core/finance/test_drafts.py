"""Quick-entry drafts: read in the active family, kept in the key-value store, saved once, private to their author."""

from __future__ import annotations

import pytest

from core.container import Container
from core.errors import NotFound, ValidationFailed
from core.finance.drafts import DraftService, EntryDraft
from core.finance.ledger import LedgerService
from core.finance.quick_entry import Refusal, RefusalReason
from tests.core.finance.test_services import new_user, personal


async def propose(container: Container, user: int, text: str, locale: str = "en") -> EntryDraft | Refusal:
    async with container.unit_of_work(write=True) as uow:
        return await DraftService(uow).propose(user, text, locale=locale)


async def test_drafts_name_accounts_and_categories_and_save_once(container: Container) -> None:
    ann, bob = await new_user(container, 1), await new_user(container, 2, "Bob")
    family = await personal(container, ann)
    bobs_family = await personal(container, bob)
    async with container.unit_of_work(write=True) as uow:
        card = await LedgerService(uow).create_account(ann, family, name="Card", kind="card")
        bobs_category = (await LedgerService(uow).categories(bob, bobs_family))[0].id
    salary = await propose(container, ann, "+50000 salary")
    assert isinstance(salary, EntryDraft)
    assert (salary.kind, salary.amount, salary.category_label) == ("income", "50000.00", "💼 Salary")
    groceries = await propose(container, ann, "-1200 groceries card")
    assert isinstance(groceries, EntryDraft)
    assert (groceries.kind, groceries.account_id, groceries.category_label) == ("expense", card.id, "🛒 Groceries")
    refused = await propose(container, ann, "hello there")
    assert isinstance(refused, Refusal)
    assert refused.reason == RefusalReason.NO_AMOUNT

    async with container.unit_of_work(write=True) as uow:
        drafts = DraftService(uow)
        with pytest.raises(NotFound):
            await drafts.get(bob, groceries.id)
        with pytest.raises(NotFound):
            await drafts.set_category(ann, groceries.id, bobs_category)
        with pytest.raises(ValidationFailed):
            await drafts.set_category(ann, groceries.id, salary.category_id or 0)
        first = await drafts.save(ann, groceries.id)
        again = await drafts.save(ann, groceries.id)
    assert first.id == again.id
    assert (first.amount_minor, first.account_id, first.source) == (-120000, card.id, "chat")
    async with container.unit_of_work(write=True) as uow:
        await DraftService(uow).cancel(ann, salary.id)
        with pytest.raises(NotFound):
            await DraftService(uow).save(ann, salary.id)
