from __future__ import annotations

import dataclasses
import itertools

import pytest

from core.access.levels import (
    DEFAULT_POLICY,
    AccessLevel,
    AccessPolicy,
    Refusal,
    UserLevels,
    check_access,
)
from core.errors import Forbidden

NOBODY = UserLevels()
BETA_TESTER = UserLevels(has_beta_access=True)
STAFF = UserLevels(is_staff=True)
FULL = UserLevels(full_permissions_api=True)


def test_flags_map_to_levels() -> None:
    assert NOBODY.held == frozenset()
    everyone = UserLevels(True, True, True, True)
    assert everyone.held == frozenset(AccessLevel)
    assert UserLevels(has_alpha_access=True).held == {AccessLevel.ALPHA}


def test_refusal_names_the_missing_level_for_display() -> None:
    refusal = check_access(NOBODY, "wallet")
    assert refusal == Refusal(AccessLevel.BETA)
    assert refusal.message == "User does not have access to BETA"
    assert refusal.code == "access_beta"
    error = refusal.error()
    assert isinstance(error, Forbidden)
    assert (error.code, error.message, error.status_hint) == ("access_beta", "User does not have access to BETA", 403)
    assert check_access(BETA_TESTER, "admin_users") == Refusal(AccessLevel.STAFF)
    assert Refusal(AccessLevel.STAFF).message == "User does not have access to ADMIN"
    assert Refusal(AccessLevel.ALPHA).message == "User does not have access to ALPHA"
    assert Refusal(AccessLevel.FULL_PERMISSIONS_API).message == "User does not have access to FULL_PERMISSIONS_API"


def test_features_open_to_their_level() -> None:
    assert check_access(BETA_TESTER, "wallet") is None
    assert check_access(BETA_TESTER, "profile") is None
    assert check_access(STAFF, "admin_users") is None
    assert check_access(UserLevels(has_alpha_access=True), "experimental") is None
    assert check_access(BETA_TESTER, "register_users") == Refusal(AccessLevel.FULL_PERMISSIONS_API)


def test_levels_are_independent_except_full_permissions() -> None:
    # Staff is not beta, alpha is not beta: each is granted on its own.
    assert check_access(STAFF, "wallet") == Refusal(AccessLevel.BETA)
    assert check_access(UserLevels(has_alpha_access=True), AccessLevel.BETA) == Refusal(AccessLevel.BETA)
    assert check_access(BETA_TESTER, AccessLevel.ALPHA) == Refusal(AccessLevel.ALPHA)
    for level in AccessLevel:
        assert check_access(FULL, level) is None
    for feature in DEFAULT_POLICY.features:
        assert check_access(FULL, feature) is None


def test_every_combination_of_flags_against_every_level() -> None:
    for flags in itertools.product((False, True), repeat=4):
        user = UserLevels(*flags)
        for level in AccessLevel:
            allowed = level in user.held or user.full_permissions_api
            assert (check_access(user, level) is None) == allowed, (flags, level)
            # A plain collection of levels is judged the same as the flags.
            assert check_access(user.held, level) == check_access(user, level)


def test_an_unknown_feature_is_an_error_never_open() -> None:
    with pytest.raises(KeyError, match="walet"):
        check_access(FULL, "walet")


def test_a_policy_of_its_own_is_frozen() -> None:
    rules = {"wallet": AccessLevel.ALPHA}
    policy = AccessPolicy(rules)
    rules["wallet"] = AccessLevel.BETA
    assert check_access(BETA_TESTER, "wallet", policy) == Refusal(AccessLevel.ALPHA)
    with pytest.raises(TypeError):
        policy.features["wallet"] = AccessLevel.BETA  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.features = {}  # type: ignore[misc]
    with pytest.raises(TypeError, match="AccessLevel"):
        AccessPolicy({"wallet": "beta"})  # type: ignore[dict-item]
    assert DEFAULT_POLICY.required("wallet") is AccessLevel.BETA
