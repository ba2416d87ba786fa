"""Queries of the admin tools: users by level, activity and search, new users, counts, and the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased

from storage.models.access import AuditEntry
from storage.models.auth import AuthSession
from storage.models.user import User

LEVEL_COLUMNS = {
    "full_permissions_api": User.full_permissions_api,
    "staff": User.is_staff,
    "beta": User.has_beta_access,
    "alpha": User.has_alpha_access,
}
SORTS = {
    "id": (User.id.asc(),),
    "-id": (User.id.desc(),),
    "date_joined": (User.date_joined.asc(), User.id.asc()),
    "-date_joined": (User.date_joined.desc(), User.id.desc()),
}
# The same orders on expressions no index serves.
_ID = User.id + 0
_JOINED = func.coalesce(User.date_joined, User.date_joined)
SEARCH_SORTS = {
    "id": (_ID.asc(),),
    "-id": (_ID.desc(),),
    "date_joined": (_JOINED.asc(), _ID.asc()),
    "-date_joined": (_JOINED.desc(), _ID.desc()),
}
_MAX_CHAR = "\U0010ffff"


def prefix_end(prefix: str) -> str | None:
    """The least string above every string starting with `prefix` in code point order (UTF-8 byte order, which
    SQLite's BINARY and PostgreSQL's text_pattern_ops compare by); None when no string is above them all."""
    stem = prefix.rstrip(_MAX_CHAR)
    if not stem:
        return None
    following = ord(stem[-1]) + 1
    # Surrogates are no characters: UTF-8 cannot carry them.
    return stem[:-1] + chr(0xE000 if 0xD800 <= following <= 0xDFFF else following)


@dataclass(frozen=True, slots=True)
class UserSearch:
    level: str | None = None
    active: bool | None = None
    bot_suspected: bool | None = None
    # digits: an id or a Telegram id; "@name": a username prefix; with "@" inside: an email; else a name prefix.
    text: str | None = None
    sort: str = "-id"
    offset: int = 0
    limit: int = 50


class AccessRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- users ----------------------------------------------------------------------------------------------------

    def _prefix(
        self, column: InstrumentedAttribute[str | None], prefix: str, *, lower: bool = True
    ) -> ColumnElement[bool]:
        """A case-insensitive prefix match; `lower=False` for a column that already holds the casefolded form."""
        value: ColumnElement[Any] = func.lower(column) if lower else column.expression
        # LIKE decides the match; the range before it only narrows the rows to those an index finds.
        condition = value.startswith(prefix, autoescape=True)
        dialect = self.session.get_bind().dialect.name
        end = prefix_end(prefix)
        if dialect == "sqlite":
            # SQLite's LIKE optimisation does not apply to expressions; a BINARY range does.
            bounds = [value >= prefix, *([value < end] if end is not None else [])]
        elif dialect == "postgresql":
            # The byte-order operators of the text_pattern_ops indexes (migration 0012): they serve a bound value
            # in a generic plan too, which `LIKE $1` cannot, and whatever the database's collation.
            bounds = [value.op("~>=~", is_comparison=True)(prefix)]
            if end is not None:
                bounds.append(value.op("~<~", is_comparison=True)(end))
        else:
            return condition
        return and_(*bounds, condition)

    def _text_condition(self, text: str) -> ColumnElement[bool]:
        # ASCII digits only: "²" is a digit to str.isdigit, and int() refuses it.
        if text.isascii() and text.isdigit():
            number = int(text)
            if number >= 2**63:
                return User.id == -1
            # users.id is a 32-bit column on PostgreSQL: a larger bound value is refused there, not unmatched.
            return or_(User.id == number, User.telegram_id == number) if number < 2**31 else User.telegram_id == number
        if text.startswith("@"):
            name = text[1:].casefold()
            return or_(self._prefix(User.telegram_username, name), self._prefix(User.username_key, name, lower=False))
        if "@" in text:
            return User.email_key == text.casefold()
        name = text.casefold()
        return or_(
            self._prefix(User.first_name, name),
            self._prefix(User.last_name, name),
            self._prefix(User.telegram_username, name),
            self._prefix(User.username_key, name, lower=False),
        )

    def search_query(self, search: UserSearch) -> Select[User]:
        query = select(User)
        if search.level is not None:
            query = query.where(LEVEL_COLUMNS[search.level] == true())
        if search.active is not None:
            query = query.where(User.is_active == search.active)
        if search.bot_suspected is not None:
            query = query.where(User.is_bot_suspected == search.bot_suspected)
        order = SORTS[search.sort]
        if search.text:
            query = query.where(self._text_condition(search.text))
            # Sort the few rows the search indexes find, rather than walk the sort's index hoping to meet matches
            # (SQLite chooses that walk for a parameterised LIMIT, and it reads every row when matches are rare).
            order = SEARCH_SORTS[search.sort]
        return query.order_by(*order).offset(search.offset).limit(search.limit)

    async def search_users(self, search: UserSearch) -> Sequence[User]:
        return (await self.session.execute(self.search_query(search))).scalars().all()

    async def by_username(self, name: str) -> User | None:
        """A Telegram username or the product's username, case-insensitively."""
        key = name.casefold()
        result = await self.session.execute(
            select(User)
            .where(or_(User.username_key == key, func.lower(User.telegram_username) == key))
            .order_by(User.id)
            .limit(1)
        )
        return result.scalar_one_or_none()

    async def new_users(self, since: datetime, limit: int) -> Sequence[tuple[User, int | None]]:
        referrer = aliased(User)
        result = await self.session.execute(
            select(User, referrer.telegram_id)
            .outerjoin(referrer, referrer.id == User.referred_by_id)
            .where(User.date_joined >= since)
            .order_by(User.date_joined.desc(), User.id.desc())
            .limit(limit)
        )
        return [(row[0], row[1]) for row in result.all()]

    async def count_users(self, since: datetime | None = None) -> int:
        query = select(func.count()).select_from(User)
        if since is not None:
            query = query.where(User.date_joined >= since)
        return int((await self.session.execute(query)).scalar_one())

    async def count_active_sessions(self, now: datetime) -> int:
        query = (
            select(func.count())
            .select_from(AuthSession)
            .where(AuthSession.revoked_at.is_(None), AuthSession.expires_at > now)
        )
        return int((await self.session.execute(query)).scalar_one())

    async def users_by_telegram_ids(self, telegram_ids: Sequence[int]) -> Sequence[User]:
        if not telegram_ids:
            return []
        return (await self.session.execute(select(User).where(User.telegram_id.in_(telegram_ids)))).scalars().all()

    async def users_by_email_keys(self, keys: Sequence[str]) -> Sequence[User]:
        if not keys:
            return []
        return (await self.session.execute(select(User).where(User.email_key.in_(keys)))).scalars().all()

    # --- the audit log (append-only: no update, no delete) ----------------------------------------------------------

    async def add_entry(self, entry: AuditEntry) -> None:
        self.session.add(entry)
        await self.session.flush()

    async def has_entry(self, action: str, target_id: int) -> bool:
        query = select(AuditEntry.id).where(AuditEntry.target_id == target_id, AuditEntry.action == action).limit(1)
        return (await self.session.execute(query)).first() is not None

    async def entries(
        self, *, actor_id: int | None, target_id: int | None, offset: int, limit: int
    ) -> Sequence[AuditEntry]:
        query = select(AuditEntry)
        if actor_id is not None:
            query = query.where(AuditEntry.actor_id == actor_id)
        if target_id is not None:
            query = query.where(AuditEntry.target_id == target_id)
        query = query.order_by(AuditEntry.id.desc()).offset(offset).limit(limit)
        return (await self.session.execute(query)).scalars().all()
