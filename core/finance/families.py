"""Families, their members and invites, and each user's active family."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from core.container import UnitOfWork
from core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from core.finance.config import FinanceConfig
from core.finance.dates import validate_time_zone
from core.finance.dto import FamilyDTO, InviteDTO, IssuedInvite, MemberDTO
from core.finance.money import validate_currency
from core.finance.onboarding import create_family
from core.finance.policy import Action, Role, may_set_role, require
from core.finance.scope import active_family_id, display_name, family_not_found, membership
from storage.models.finance import FamilyInvite, FamilyMember
from storage.repositories.finance import FinanceRepository
from storage.repositories.users import UserRepository

MAX_NAME = 100
MAX_INVITE_USES = 1000


def hash_invite_code(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def invite_link(bot_username: str | None, code: str) -> str | None:
    return f"https://t.me/{bot_username}?start=join_{code}" if bot_username else None


def _clean_name(name: str, limit: int = MAX_NAME) -> str:
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > limit:
        raise ValidationFailed("finance.name_invalid", f"A name has 1 to {limit} characters")
    return cleaned


def _invalid_invite() -> NotFound:
    return NotFound("finance.invite_invalid", "This invite is invalid, used up, expired or revoked")


class FamilyService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._repo = FinanceRepository(uow.session)
        self._clock = uow.clock
        self._config = uow.config(FinanceConfig)

    # --- families ------------------------------------------------------------------------------------------

    async def create(
        self,
        user_id: int,
        *,
        name: str | None = None,
        language: str | None = None,
        base_currency: str | None = None,
        time_zone: str | None = None,
    ) -> FamilyDTO:
        """A new family owned by the user, with a cash account and the default categories in their language; it
        becomes their active family."""
        family = await create_family(
            self._uow,
            user_id,
            name=_clean_name(name) if name is not None else None,
            language=language,
            base_currency=validate_currency(base_currency) if base_currency is not None else None,
            time_zone=validate_time_zone(time_zone) if time_zone is not None else None,
        )
        return FamilyDTO.of(family, Role.OWNER, active=True)

    async def active(self, user_id: int) -> FamilyDTO:
        """The user's active family; on first use, a personal family made for them."""
        family, member = await membership(self._uow, user_id, None)
        return FamilyDTO.of(family, member.role, active=True)

    async def list_mine(self, user_id: int) -> list[FamilyDTO]:
        """The user's families, the active one marked; on first use, the personal family made for them."""
        active = (await self.active(user_id)).id
        return [FamilyDTO.of(f, role, active=f.id == active) for f, role in await self._repo.families_of(user_id)]

    async def get(self, user_id: int, family_id: int | None) -> FamilyDTO:
        family, member = await membership(self._uow, user_id, family_id)
        return FamilyDTO.of(family, member.role, active=await active_family_id(self._repo, user_id) == family.id)

    async def update(
        self,
        user_id: int,
        family_id: int,
        *,
        name: str | None = None,
        base_currency: str | None = None,
        time_zone: str | None = None,
    ) -> FamilyDTO:
        family, member = await membership(self._uow, user_id, family_id)
        require(member.role, Action.MANAGE if base_currency is None else Action.OWN)
        if name is not None:
            family.name = _clean_name(name)
        if time_zone is not None:
            family.time_zone = validate_time_zone(time_zone)
        if base_currency is not None:
            base_currency = validate_currency(base_currency)
            # Stored base amounts would silently change meaning.
            if base_currency != family.base_currency and (await self._repo.page(family.id, limit=1)).rows:
                raise Conflict("finance.base_currency_in_use", "The base currency cannot change once entries exist")
            family.base_currency = base_currency
        family.updated_at = self._clock.now()
        await self._uow.session.flush()
        return await self.get(user_id, family.id)

    async def switch(self, user_id: int, family_id: int) -> FamilyDTO:
        family, member = await membership(self._uow, user_id, family_id)
        await self._repo.set_active_family(user_id, family.id)
        return FamilyDTO.of(family, member.role, active=True)

    async def overview(self, user_id: int) -> tuple[list[FamilyDTO], list[MemberDTO]]:
        """The user's families (the active one marked) and the active family's members."""
        families = await self.list_mine(user_id)
        active = next(f for f in families if f.active)
        return families, await self.members(user_id, active.id)

    # --- members -------------------------------------------------------------------------------------------

    async def members(self, user_id: int, family_id: int | None) -> list[MemberDTO]:
        family, _ = await membership(self._uow, user_id, family_id)
        users = UserRepository(self._uow.session)
        return [
            MemberDTO.of(row, display_name(await users.get(row.user_id), row.user_id))
            for row in await self._repo.members(family.id)
        ]

    async def set_role(self, user_id: int, family_id: int, member_user_id: int, role: str) -> MemberDTO:
        family, actor = await membership(self._uow, user_id, family_id)
        new = _role(role)
        require(actor.role, Action.MANAGE)
        target = await self._repo.member(family.id, member_user_id)
        if target is None:
            raise NotFound("finance.member_not_found", "Member not found")
        if not may_set_role(actor.role, current=target.role, new=new):
            raise Forbidden("finance.forbidden", "Your role does not allow this change")
        if target.role == Role.OWNER and new != Role.OWNER and await self._repo.owners(family.id) <= 1:
            raise Conflict("finance.last_owner", "Hand ownership to someone else first")
        target.role = new
        await self._uow.session.flush()
        return MemberDTO.of(target, display_name(await UserRepository(self._uow.session).get(target.user_id), None))

    async def remove(self, user_id: int, family_id: int, member_user_id: int) -> None:
        """Remove a member, or leave (a user removing themselves). The last owner cannot leave."""
        family, actor = await membership(self._uow, user_id, family_id)
        target = actor if member_user_id == user_id else await self._repo.member(family.id, member_user_id)
        if target is None:
            raise NotFound("finance.member_not_found", "Member not found")
        if target is not actor:
            require(actor.role, Action.MANAGE)
            if not may_set_role(actor.role, current=target.role, new=Role.VIEWER):
                raise Forbidden("finance.forbidden", "Your role does not allow removing this member")
        if target.role == Role.OWNER and await self._repo.owners(family.id) <= 1:
            raise Conflict("finance.last_owner", "Hand ownership to someone else first")
        await self._repo.remove_member(target)

    # --- invites -------------------------------------------------------------------------------------------

    async def invite(
        self,
        user_id: int,
        family_id: int | None,
        *,
        role: str = Role.MEMBER,
        max_uses: int = 1,
        ttl: timedelta | None = None,
    ) -> IssuedInvite:
        family, actor = await membership(self._uow, user_id, family_id)
        require(actor.role, Action.MANAGE)
        granted = _role(role)
        if granted == Role.OWNER:
            raise ValidationFailed("finance.invite_role", "Ownership is handed over, never given by invite")
        if not may_set_role(actor.role, current=Role.VIEWER, new=granted):
            raise Forbidden("finance.forbidden", "Your role cannot invite with this role")
        if not 1 <= max_uses <= MAX_INVITE_USES:
            raise ValidationFailed("finance.invite_uses", f"An invite has 1 to {MAX_INVITE_USES} uses")
        ttl = ttl or self._config.invite_ttl
        if ttl <= timedelta(0) or ttl > self._config.invite_max_ttl:
            raise ValidationFailed("finance.invite_ttl", "The invite's lifetime is out of range")
        code = secrets.token_urlsafe(16)
        row = FamilyInvite(
            family_id=family.id,
            code_hash=hash_invite_code(code),
            role=granted,
            max_uses=max_uses,
            uses=0,
            expires_at=self._clock.now() + ttl,
            created_by_id=user_id,
            created_at=self._clock.now(),
        )
        await self._repo.add(row)
        return IssuedInvite(InviteDTO.of(row), code, invite_link(self._uow.container.links.bot_username, code))

    async def invites(self, user_id: int, family_id: int | None) -> list[InviteDTO]:
        family, actor = await membership(self._uow, user_id, family_id)
        require(actor.role, Action.MANAGE)
        return [InviteDTO.of(row) for row in await self._repo.invites(family.id)]

    async def revoke_invite(self, user_id: int, family_id: int | None, invite_id: int) -> InviteDTO:
        family, actor = await membership(self._uow, user_id, family_id)
        require(actor.role, Action.MANAGE)
        row = await self._repo.invite(family.id, invite_id)
        if row is None:
            raise NotFound("finance.invite_not_found", "Invite not found")
        if row.revoked_at is None:
            row.revoked_at = self._clock.now()
            await self._uow.session.flush()
        return InviteDTO.of(row)

    async def accept(self, user_id: int, code: str) -> FamilyDTO:
        """Join the invite's family (it becomes the active one). Already a member: nothing used, the family back."""
        if not code or len(code) > 128:
            raise _invalid_invite()
        row = await self._repo.invite_by_hash(hash_invite_code(code))
        now = self._clock.now()
        if row is None or row.revoked_at is not None or row.expires_at <= now or row.uses >= row.max_uses:
            raise _invalid_invite()
        family = await self._repo.family(row.family_id)
        if family is None:
            raise _invalid_invite()
        existing = await self._repo.member(family.id, user_id)
        if existing is not None:
            await self._repo.set_active_family(user_id, family.id)
            return FamilyDTO.of(family, existing.role, active=True)
        if not await self._repo.claim_invite(row.id, now):
            raise _invalid_invite()
        try:
            async with self._uow.session.begin_nested():
                await self._repo.add(FamilyMember(family_id=family.id, user_id=user_id, role=row.role, joined_at=now))
        except IntegrityError:
            # The same person joining twice at once: one membership, the other attempt sees it.
            raise Conflict("finance.already_member", "You are already a member of this family") from None
        await self._repo.set_active_family(user_id, family.id)
        return FamilyDTO.of(family, row.role, active=True)


def _role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise ValidationFailed("finance.role_invalid", "Role is one of owner, admin, member, viewer") from None


__all__ = ["FamilyService", "family_not_found", "hash_invite_code", "invite_link"]
