"""Access levels and the features they open, decided by pure functions.

A user holds any set of levels (flags, as the profile payload shows them: full_permissions_api, is_staff,
has_beta_access, has_alpha_access). A feature names the one level it needs. Full API permissions open everything;
the other levels are independent of each other: staff is not beta, and alpha is not beta, unless granted both.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from core.errors import Forbidden

__all__ = [
    "DEFAULT_FEATURES",
    "DEFAULT_POLICY",
    "AccessLevel",
    "AccessPolicy",
    "Refusal",
    "UserLevels",
    "check_access",
]


class AccessLevel(StrEnum):
    FULL_PERMISSIONS_API = "full_permissions_api"
    STAFF = "staff"
    BETA = "beta"
    ALPHA = "alpha"

    @property
    def display(self) -> str:
        """The name people see in a refusal; staff is shown as ADMIN, as the original API called it."""
        return "ADMIN" if self is AccessLevel.STAFF else self.name


@dataclass(frozen=True, slots=True)
class UserLevels:
    """A user's level flags, named as in the profile payload."""

    full_permissions_api: bool = False
    is_staff: bool = False
    has_beta_access: bool = False
    has_alpha_access: bool = False

    @property
    def held(self) -> frozenset[AccessLevel]:
        flags = {
            AccessLevel.FULL_PERMISSIONS_API: self.full_permissions_api,
            AccessLevel.STAFF: self.is_staff,
            AccessLevel.BETA: self.has_beta_access,
            AccessLevel.ALPHA: self.has_alpha_access,
        }
        return frozenset(level for level, on in flags.items() if on)


DEFAULT_FEATURES: Mapping[str, AccessLevel] = MappingProxyType(
    {
        "wallet": AccessLevel.BETA,
        "profile": AccessLevel.BETA,
        "experimental": AccessLevel.ALPHA,
        "admin_users": AccessLevel.STAFF,
        "register_users": AccessLevel.FULL_PERMISSIONS_API,
    }
)


def _read_only(features: Mapping[str, AccessLevel]) -> Mapping[str, AccessLevel]:
    return MappingProxyType(dict(features))


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """Which level each feature needs; copied on creation, so no one can change a policy in use."""

    features: Mapping[str, AccessLevel] = field(default_factory=lambda: DEFAULT_FEATURES)

    def __post_init__(self) -> None:
        for name, level in self.features.items():
            if not isinstance(level, AccessLevel):
                raise TypeError(f"feature {name!r} needs an AccessLevel, not {level!r}")
        object.__setattr__(self, "features", _read_only(self.features))

    def required(self, feature: str) -> AccessLevel:
        """The level a feature needs; KeyError for a feature the policy does not know (never silently open)."""
        try:
            return self.features[feature]
        except KeyError:
            raise KeyError(f"no access rule for feature {feature!r}") from None


DEFAULT_POLICY = AccessPolicy()


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why access was refused: the level that is missing."""

    level: AccessLevel

    @property
    def message(self) -> str:
        return f"User does not have access to {self.level.display}"

    @property
    def code(self) -> str:
        return f"access_{self.level.value}"

    def error(self) -> Forbidden:
        return Forbidden(self.code, self.message)


def check_access(
    user: UserLevels | Collection[AccessLevel],
    needed: AccessLevel | str,
    policy: AccessPolicy = DEFAULT_POLICY,
) -> Refusal | None:
    """None when ``user`` may use ``needed`` (a level, or a feature named in ``policy``), else the refusal."""
    held = user.held if isinstance(user, UserLevels) else frozenset(user)
    level = needed if isinstance(needed, AccessLevel) else policy.required(needed)
    if level in held or AccessLevel.FULL_PERMISSIONS_API in held:
        return None
    return Refusal(level)
