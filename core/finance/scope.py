"""Every finance query starts here: the family a user asked for (or their active one), reached through membership."""

from __future__ import annotations

from core.container import UnitOfWork
from core.errors import NotFound
from core.finance.onboarding import personal_family
from storage.models.finance import Family, FamilyMember
from storage.models.user import User
from storage.repositories.finance import FinanceRepository
from storage.repositories.users import UserRepository


def family_not_found() -> NotFound:
    return NotFound("finance.family_not_found", "Family not found")


async def membership(uow: UnitOfWork, user_id: int, family_id: int | None) -> tuple[Family, FamilyMember]:
    """The family and the user's membership in it; another family's id is simply not found (404, never 403).
    Without a family id, the user's active family: on their first use, a personal family made for them."""
    repo = FinanceRepository(uow.session)
    if family_id is not None:
        member = await repo.member(family_id, user_id)
    else:
        member = await active_member(repo, user_id)
        if member is None:
            uow.need_write()
            # Two first uses at once must make one family: the second waits for the first's commit, then finds it.
            await UserRepository(uow.session).get(user_id, for_update=True)
            member = await active_member(repo, user_id)
            if member is None:
                member = await repo.member((await personal_family(uow, user_id)).id, user_id)
    family = await repo.family(member.family_id) if member is not None else None
    if member is None or family is None:
        raise family_not_found()
    return family, member


async def active_member(repo: FinanceRepository, user_id: int) -> FamilyMember | None:
    """The user's membership in the family they chose, while they still belong to it; else in their oldest one."""
    preference = await repo.preference(user_id)
    chosen = preference.active_family_id if preference is not None else None
    if chosen is not None:
        member = await repo.member(chosen, user_id)
        if member is not None:
            return member
    families = await repo.families_of(user_id)
    return await repo.member(families[0][0].id, user_id) if families else None


async def active_family_id(repo: FinanceRepository, user_id: int) -> int | None:
    """The id of the user's active family (see active_member); None without any."""
    member = await active_member(repo, user_id)
    return member.family_id if member is not None else None


def display_name(user: User | None, user_id: int | None) -> str:
    if user is None:
        return f"#{user_id}" if user_id is not None else "—"
    parts = [part for part in (user.first_name, user.last_name) if part]
    return " ".join(parts) or user.username or user.telegram_username or f"#{user.id}"
