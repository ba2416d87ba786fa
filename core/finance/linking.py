"""When identity retires a bare Telegram-only user into the account it is linked to, that user's finance records go
with it: memberships, authored entries, history, invites and keys. Never dropped."""

from __future__ import annotations

from core.container import UnitOfWork
from core.errors import Conflict
from storage.repositories.finance import FinanceRepository


async def move_finance_records(uow: UnitOfWork, retired_user_id: int, target_user_id: int) -> None:
    """Credit `target_user_id` with everything `retired_user_id` had in finance.

    Two memberships of one family cannot merge into one person without changing what the family sees (the members'
    totals, who did what): that link is refused with a Conflict, and the person leaves that family with one of the
    accounts first.
    """
    session = uow.session
    repo = FinanceRepository(session)
    retired = await repo.memberships_of(retired_user_id)
    mine = {m.family_id: m for m in await repo.memberships_of(target_user_id)}
    shared = [m for m in retired if m.family_id in mine]
    if shared:
        raise Conflict(
            "finance.link_conflict",
            "Both accounts are members of the same family; leave it with one of them before linking",
        )
    for membership in retired:
        membership.user_id = target_user_id
    await session.flush()
    await repo.move_user(retired_user_id, target_user_id)
    target_pref = await repo.preference(target_user_id)
    retired_pref = await repo.preference(retired_user_id)
    if (target_pref is None or target_pref.active_family_id is None) and retired_pref is not None:
        await repo.set_active_family(target_user_id, retired_pref.active_family_id)
