"""Who may use what: one rule, called by both faces (the REST route wrapper and the bot's access middlewares), so a
change of a user's state takes effect on both at once.

`refusal(user)` asks whether the account may be served at all (an active account); `refusal(user, feature)` also
asks whether it holds the level the feature needs, by the `AccessConfig` the composition root built from settings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from core.access.levels import DEFAULT_FEATURES, AccessLevel, AccessPolicy, check_access
from core.errors import Forbidden
from core.users.dto import UserDTO

ACCOUNT_DISABLED = "account_disabled"
# The feature every admin tool names; always needs the staff level (or full API permissions).
ADMIN = "admin"
# The rate-limit tier of messages to the bot, per user (on the limiter the REST routes use).
BOT_MESSAGES = "bot_messages"


def policy_of(features: Mapping[str, AccessLevel]) -> AccessPolicy:
    return AccessPolicy({**features, ADMIN: AccessLevel.STAFF})


@dataclass(frozen=True, slots=True)
class AccessConfig:
    """Which feature needs which level, who the first admins are, and the bot-suspect rules."""

    policy: AccessPolicy = field(default_factory=lambda: policy_of(DEFAULT_FEATURES))
    # Made admins (staff with full API permissions) at start-up, so a fresh install has someone to administer it.
    initial_admin_telegram_ids: tuple[int, ...] = ()
    initial_admin_emails: tuple[str, ...] = ()
    # Refused bot messages (the per-user rate limit) within one window that flag the sender as a suspected bot;
    # 0 never flags anyone.
    bot_suspect_after: int = 20
    # Largest page the admin lists serve.
    max_page_size: int = 100


DEFAULT_ACCESS = AccessConfig()


def refusal(user: UserDTO, feature: str | None = None, *, config: AccessConfig = DEFAULT_ACCESS) -> Forbidden | None:
    """Why this user may not be served (or may not use `feature`), or None. Checked on every request and every
    update against the user's current state (the faces load it through the access guard's revision-checked
    cache). A feature the policy does not know raises KeyError: never silently open."""
    if not user.is_active:
        return Forbidden(ACCOUNT_DISABLED, "This account is disabled")
    if feature is not None:
        missing = check_access(user.levels, feature, config.policy)
        if missing is not None:
            return missing.error()
    return None


def require_access(user: UserDTO, feature: str | None = None, *, config: AccessConfig = DEFAULT_ACCESS) -> None:
    found = refusal(user, feature, config=config)
    if found is not None:
        raise found


def missing_level(refused: Forbidden) -> AccessLevel | None:
    """The level a refusal names (for the faces' translated texts), None for a disabled account."""
    for level in AccessLevel:
        if refused.code == f"access_{level.value}":
            return level
    return None


def check_features(features: Iterable[str], config: AccessConfig) -> None:
    """At start-up: every feature a route or a handler names must have a level in the configuration, so a
    missing entry stops the start with its name instead of failing (closed) on the first request."""
    unknown = sorted({feature for feature in features if feature not in config.policy.features})
    if unknown:
        raise ValueError(f"features {unknown} are used by routes or handlers but have no level in [access] settings")
