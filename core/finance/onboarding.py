"""A new family as its owner finds it: a cash account, the default categories and keywords in their language."""

from __future__ import annotations

from core.container import UnitOfWork
from core.finance import defaults
from core.finance.config import FinanceConfig
from core.finance.policy import Role
from core.users.time_zones import known_zone
from storage.models.finance import Account, Category, Family, FamilyMember, KeywordAlias
from storage.repositories.finance import FinanceRepository
from storage.repositories.users import UserRepository


async def create_family(
    uow: UnitOfWork,
    user_id: int,
    *,
    name: str | None = None,
    language: str | None = None,
    base_currency: str | None = None,
    time_zone: str | None = None,
) -> Family:
    """A family owned by the user, which becomes their active one. Name, currency and zone come checked."""
    config = uow.config(FinanceConfig)
    repo = FinanceRepository(uow.session)
    now = uow.clock.now()
    family = Family(
        name=name or defaults.family_name(language),
        base_currency=base_currency or config.default_currency,
        time_zone=time_zone or config.default_time_zone,
        created_by_id=user_id,
        created_at=now,
        updated_at=now,
    )
    await repo.add(family)
    await repo.add(FamilyMember(family_id=family.id, user_id=user_id, role=Role.OWNER, joined_at=now))
    await repo.add(
        Account(
            family_id=family.id,
            name=defaults.cash_account_name(language),
            kind="cash",
            currency=family.base_currency,
            created_at=now,
        )
    )
    made: list[Category] = []
    for kind, category_name, emoji in defaults.default_categories(language):
        row = Category(family_id=family.id, kind=kind, name=category_name, emoji=emoji, created_at=now)
        uow.session.add(row)
        made.append(row)
    await uow.session.flush()
    for keyword, index in defaults.default_aliases(language).items():
        uow.session.add(KeywordAlias(family_id=family.id, keyword=keyword, category_id=made[index].id))
    await uow.session.flush()
    await repo.set_active_family(user_id, family.id)
    return family


async def personal_family(uow: UnitOfWork, user_id: int) -> Family:
    """What a user's first use of finance makes: a family in the language they are served in (the face's, else
    their saved one) and in their time zone when they chose one."""
    user = await UserRepository(uow.session).get(user_id)
    language = uow.language or (user.language if user is not None else None)
    zone = known_zone(user.time_zone if user is not None else None)
    return await create_family(uow, user_id, language=language, time_zone=zone.key if zone is not None else None)
