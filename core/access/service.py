"""Admin tools shared by the REST routes, the bot and the command line: users by level and search, changing a
user's levels and state, new users, counts, the first admins, the bot-suspect flag, and the audit log.

Every change is written to the audit log in the transaction that makes it. The service checks the actor itself on
every change (its current row, not what a face cached), so a stale button or a token of a demoted admin changes
nothing. Rules against escalation:

* nobody changes their own levels or state (no self-promotion, no locking oneself out);
* staff may grant and revoke beta and alpha, ban and unban, and set or clear the bot-suspect flag of ordinary
  users; only a holder of full API permissions may grant or revoke staff or full permissions, or change a user who
  holds either;
* removing a level or disabling an account ends the user's sessions at once (`token_version` raised).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from datetime import datetime, time, timedelta
from typing import Any, Literal

from core.access.levels import check_access
from core.access.policy import AccessConfig
from core.auth.service import AuthService, ClientInfo
from core.container import UnitOfWork
from core.errors import Forbidden, NotFound, ValidationFailed
from core.users.dto import TelegramProfile, UserDTO
from core.users.normalize import email_key
from core.users.service import UserService
from storage.models.access import AuditEntry
from storage.models.user import User
from storage.repositories.access import SORTS, AccessRepository, UserSearch
from storage.repositories.auth import AuthRepository
from storage.repositories.users import UserRepository

log = logging.getLogger(__name__)

Face = Literal["rest", "bot", "cli", "system"]
# The level flags and the state flags an admin may change, in the order the card shows them.
LEVEL_FLAGS = ("full_permissions_api", "is_staff", "has_beta_access", "has_alpha_access")
STATE_FLAGS = ("is_active", "is_bot_suspected")
# Granting or revoking these needs full API permissions.
PRIVILEGED_FLAGS = frozenset({"full_permissions_api", "is_staff"})
INITIAL_ADMIN = "admin.initial"
LEVEL_NAMES = {"full_permissions_api", "staff", "beta", "alpha"}


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts, through which face, and the request or update id that carried it."""

    user_id: int | None
    face: Face
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class UserChanges:
    """The flags to set; None leaves a flag as it is."""

    full_permissions_api: bool | None = None
    is_staff: bool | None = None
    has_beta_access: bool | None = None
    has_alpha_access: bool | None = None
    is_active: bool | None = None
    is_bot_suspected: bool | None = None

    def given(self) -> dict[str, bool]:
        found = {item.name: getattr(self, item.name) for item in fields(self)}
        return {name: value for name, value in found.items() if value is not None}


@dataclass(frozen=True, slots=True)
class UserFilter:
    level: str | None = None
    active: bool | None = None
    bot_suspected: bool | None = None
    search: str | None = None
    sort: str = "-id"
    page: int = 1
    page_size: int = 50


@dataclass(frozen=True, slots=True)
class UserPage:
    users: tuple[UserDTO, ...]
    page: int
    page_size: int
    has_more: bool


@dataclass(frozen=True, slots=True)
class NewUserDTO:
    id: int
    telegram_id: int | None
    username: str | None
    date_joined: datetime
    referred_by_telegram_id: int | None


@dataclass(frozen=True, slots=True)
class AuditDTO:
    id: int
    created_at: datetime
    actor_id: int | None
    face: str
    action: str
    target_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None


@dataclass(frozen=True, slots=True)
class AuditPage:
    entries: tuple[AuditDTO, ...]
    page: int
    page_size: int
    has_more: bool


@dataclass(frozen=True, slots=True)
class AdminStats:
    users_total: int
    new_today: int
    active_sessions: int


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int
    user_id: int


def flags_of(user: User, names: tuple[str, ...] | list[str]) -> dict[str, bool]:
    return {name: bool(getattr(user, name)) for name in names}


class AccessService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._session = uow.session
        self._repo = AccessRepository(uow.session)
        self._users = UserRepository(uow.session)
        self._clock = uow.clock
        self.config = uow.config(AccessConfig)

    # --- checks -----------------------------------------------------------------------------------------------

    async def _load(self, user_id: int, *, lock: bool = False) -> User:
        # `lock`: the row is read FOR UPDATE (PostgreSQL; SQLite's writers are serialized anyway), so two admins
        # changing one user at once apply one after the other: the audit's "before" and the revision stay true.
        user = await self._session.get(User, user_id, with_for_update=lock) if lock else await self._users.get(user_id)
        if user is None:
            raise NotFound("user_not_found", "User not found")
        return user

    async def _admin(self, actor: Actor) -> User | None:
        """The acting admin as the database holds it now; None for the command line and the system."""
        if actor.face in ("cli", "system"):
            return None
        if actor.user_id is None:
            raise Forbidden("access_staff", "User does not have access to ADMIN")
        admin = await self._users.get(actor.user_id)
        if (
            admin is None
            or not admin.is_active
            or check_access(UserDTO.from_model(admin).levels, "admin", self.config.policy)
        ):
            raise Forbidden("access_staff", "User does not have access to ADMIN")
        return admin

    def _page_size(self, size: int) -> int:
        if not 1 <= size <= self.config.max_page_size:
            raise ValidationFailed("page_size", f"page_size must be between 1 and {self.config.max_page_size}")
        return size

    async def _audit(self, actor: Actor, action: str, target_id: int | None, before: Any, after: Any) -> None:
        await self._repo.add_entry(
            AuditEntry(
                created_at=self._clock.now(),
                actor_id=actor.user_id,
                face=actor.face,
                action=action,
                target_id=target_id,
                before=before,
                after=after,
                request_id=actor.request_id[:128] if actor.request_id else None,
            )
        )

    # --- reading ------------------------------------------------------------------------------------------------

    async def list_users(self, actor: Actor, found: UserFilter) -> UserPage:
        await self._admin(actor)
        size = self._page_size(found.page_size)
        if found.level is not None and found.level not in LEVEL_NAMES:
            raise ValidationFailed("level", f"level must be one of: {', '.join(sorted(LEVEL_NAMES))}")
        if found.sort not in SORTS:
            raise ValidationFailed("sort", f"sort must be one of: {', '.join(SORTS)}")
        if found.page < 1:
            raise ValidationFailed("page", "page must be 1 or more")
        text = found.search.strip() if found.search else None
        rows = await self._repo.search_users(
            UserSearch(
                level=found.level,
                active=found.active,
                bot_suspected=found.bot_suspected,
                text=text or None,
                sort=found.sort,
                offset=(found.page - 1) * size,
                limit=size + 1,
            )
        )
        users = tuple(UserDTO.from_model(row) for row in rows[:size])
        return UserPage(users=users, page=found.page, page_size=size, has_more=len(rows) > size)

    async def get_user(self, actor: Actor, user_id: int) -> UserDTO:
        await self._admin(actor)
        return UserDTO.from_model(await self._load(user_id))

    async def find_user(self, actor: Actor, text: str) -> UserDTO:
        """One user by id, Telegram id, @username or email (the bot's /user)."""
        await self._admin(actor)
        text = text.strip()
        found: User | None = None
        if text.isdigit() and int(text) < 2**63:
            found = await self._users.get(int(text)) if int(text) < 2**31 else None
            found = found or await self._users.by_telegram_id(int(text))
        elif text.startswith("@") and len(text) > 1:
            found = await self._repo.by_username(text[1:])
        elif "@" in text:
            found = await self._users.by_email_key(email_key(text))
        if found is None:
            raise NotFound("user_not_found", "User not found")
        return UserDTO.from_model(found)

    async def new_users(self, actor: Actor, hours: int) -> list[NewUserDTO]:
        await self._admin(actor)
        if not 1 <= hours <= 24 * 31:
            raise ValidationFailed("hours", "hours must be between 1 and 744")
        rows = await self._repo.new_users(self._clock.now() - timedelta(hours=hours), self.config.max_page_size * 10)
        return [
            NewUserDTO(
                id=user.id,
                telegram_id=user.telegram_id,
                username=user.telegram_username or user.username,
                date_joined=user.date_joined,
                referred_by_telegram_id=referrer,
            )
            for user, referrer in rows
        ]

    async def stats(self, actor: Actor) -> AdminStats:
        await self._admin(actor)
        now = self._clock.now()
        midnight = datetime.combine(now.date(), time(0), tzinfo=now.tzinfo)
        return AdminStats(
            users_total=await self._repo.count_users(),
            new_today=await self._repo.count_users(midnight),
            active_sessions=await self._repo.count_active_sessions(now),
        )

    async def audit_log(
        self,
        actor: Actor,
        *,
        actor_id: int | None = None,
        target_id: int | None = None,
        page: int = 1,
        page_size: int = 50,
    ) -> AuditPage:
        await self._admin(actor)
        size = self._page_size(page_size)
        if page < 1:
            raise ValidationFailed("page", "page must be 1 or more")
        rows = await self._repo.entries(
            actor_id=actor_id, target_id=target_id, offset=(page - 1) * size, limit=size + 1
        )
        entries = tuple(
            AuditDTO(
                id=row.id,
                created_at=row.created_at,
                actor_id=row.actor_id,
                face=row.face,
                action=row.action,
                target_id=row.target_id,
                before=row.before,
                after=row.after,
                request_id=row.request_id,
            )
            for row in rows[:size]
        )
        return AuditPage(entries=entries, page=page, page_size=size, has_more=len(rows) > size)

    # --- changing -----------------------------------------------------------------------------------------------

    async def update_user(self, actor: Actor, user_id: int, changes: UserChanges) -> UserDTO:
        """Set levels and state flags of a user, by the rules in the module's docstring; audited."""
        admin = await self._admin(actor)
        given = changes.given()
        if not given:
            raise ValidationFailed("no_changes", "Nothing to change")
        target = await self._load(user_id, lock=True)
        if admin is not None:
            if admin.id == target.id:
                raise Forbidden("own_access", "Admins cannot change their own access")
            if not admin.full_permissions_api and (
                PRIVILEGED_FLAGS & given.keys() or target.is_staff or target.full_permissions_api
            ):
                raise Forbidden("access_full_permissions_api", "User does not have access to FULL_PERMISSIONS_API")
        return await self._apply(actor, target, given, action="user.update")

    async def _apply(self, actor: Actor, target: User, given: dict[str, bool], *, action: str) -> UserDTO:
        changed = {name: value for name, value in given.items() if bool(getattr(target, name)) != value}
        if not changed:
            return UserDTO.from_model(target)
        before = flags_of(target, list(changed))
        for name, value in changed.items():
            setattr(target, name, value)
        removed = any(before[name] and name in LEVEL_FLAGS for name in changed) or changed.get("is_active") is False
        if removed:
            # Sessions opened under a level the user no longer holds, or of a disabled account, end now.
            await AuthService(self._uow).revoke_all_of(target)
        else:
            await UserService(self._uow).touch(target)
        await self._audit(actor, action, target.id, before, changed)
        log.info("user access changed", extra={"target_id": target.id, "face": actor.face, "fields": sorted(changed)})
        return UserDTO.from_model(target)

    async def apply_initial_admins(self) -> list[int]:
        """Make the users the settings name admins (staff with full API permissions), once each; audited (face
        "system").

        A Telegram id with no user yet gets one (its names arrive with the person's first update), so a fresh
        install has its admin; an email address nobody registered yet is skipped until someone does."""
        config = self.config
        known = {user.telegram_id for user in await self._repo.users_by_telegram_ids(config.initial_admin_telegram_ids)}
        for telegram_id in config.initial_admin_telegram_ids:
            if telegram_id not in known:
                await UserService(self._uow).ensure_telegram_user(
                    TelegramProfile(telegram_id=telegram_id, first_name=None)
                )
        rows = list(await self._repo.users_by_telegram_ids(config.initial_admin_telegram_ids))
        rows += await self._repo.users_by_email_keys([email_key(email) for email in config.initial_admin_emails])
        made: list[int] = []
        for user in {row.id: row for row in rows}.values():
            # Once only: an owner who later demotes an initial admin is not overruled by the next run.
            if (user.is_staff and user.full_permissions_api) or await self._repo.has_entry(INITIAL_ADMIN, user.id):
                continue
            await self._apply(
                Actor(None, "system"),
                user,
                {"is_staff": True, "full_permissions_api": True},
                action=INITIAL_ADMIN,
            )
            made.append(user.id)
        return made

    async def flag_bot_suspected(self, user_id: int, *, reason: str, request_id: str | None = None) -> bool:
        """Set by the system (Telegram's is_bot, repeated rate-limit violations); True when newly set."""
        user = await self._load(user_id, lock=True)
        if user.is_bot_suspected:
            return False
        user.is_bot_suspected = True
        await UserService(self._uow).touch(user)
        await self._audit(
            Actor(None, "system", request_id),
            f"bot_suspect.{reason}",
            user.id,
            {"is_bot_suspected": False},
            {"is_bot_suspected": True},
        )
        return True

    async def issue_token(self, user_id: int, *, reason: str) -> IssuedToken:
        """A short-lived access token for support and development (the command line); audited (face "cli")."""
        user = await self._load(user_id)
        auth = AuthService(self._uow)
        pair = await auth.open_session(user.id, method="cli", client=ClientInfo(user_agent="run.py"))
        # The session ends with its one access token; its refresh token is never shown, so nothing outlives it.
        session = await AuthRepository(self._session).get_session(pair.session_id)
        if session is not None:
            session.expires_at = self._clock.now() + auth.config.access_ttl
        await self._audit(
            Actor(None, "cli"), "token.issue", user.id, None, {"session_id": pair.session_id, "reason": reason}
        )
        return IssuedToken(access_token=pair.access_token, expires_in=pair.expires_in, user_id=user.id)
