"""Family roles: what each may do. One rule set, called by the services both faces use."""

from __future__ import annotations

from enum import StrEnum

from core.errors import Forbidden


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"


_RANK = {Role.VIEWER: 0, Role.MEMBER: 1, Role.ADMIN: 2, Role.OWNER: 3}


class Action(StrEnum):
    READ = "read"
    # Add entries, and edit or delete one's own.
    WRITE_OWN = "write_own"
    # Edit or delete anyone's entries; manage accounts, categories, rates and invites; change members.
    MANAGE = "manage"
    # Rename the family, change its currency and time zone, make owners.
    OWN = "own"


_NEEDS = {Action.READ: Role.VIEWER, Action.WRITE_OWN: Role.MEMBER, Action.MANAGE: Role.ADMIN, Action.OWN: Role.OWNER}


def rank(role: str) -> int:
    return _RANK[Role(role)]


def allows(role: str, action: Action) -> bool:
    return rank(role) >= _RANK[_NEEDS[action]]


def require(role: str, action: Action) -> None:
    if not allows(role, action):
        raise Forbidden("finance.forbidden", f"Your role ({role}) does not allow this")


def may_edit_entry(role: str, *, user_id: int, author_id: int | None) -> bool:
    """The author (a member or above) and admins may change an entry."""
    if allows(role, Action.MANAGE):
        return True
    return allows(role, Action.WRITE_OWN) and author_id == user_id


def may_set_role(actor_role: str, *, current: str, new: str) -> bool:
    """Owners change anyone; admins change members and viewers, never into an owner or admin above them."""
    if actor_role == Role.OWNER:
        return True
    if actor_role == Role.ADMIN:
        return rank(current) < rank(Role.ADMIN) and rank(new) < rank(Role.OWNER)
    return False
