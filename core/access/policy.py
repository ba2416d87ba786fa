"""Who may use what: one rule, called by both faces (the REST route wrapper and the bot's access middleware), so a
change of a user's state takes effect on both at once."""

from __future__ import annotations

from core.errors import Forbidden
from core.users.dto import UserDTO

ACCOUNT_DISABLED = "account_disabled"


def refusal(user: UserDTO) -> Forbidden | None:
    """Why this user may not be served, or None. Checked on every request and every update against the user's
    current state (the faces load it through the access guard's revision-checked cache)."""
    if not user.is_active:
        return Forbidden(ACCOUNT_DISABLED, "This account is disabled")
    return None


def require_access(user: UserDTO) -> None:
    found = refusal(user)
    if found is not None:
        raise found
