from __future__ import annotations

import pytest

from core.auth.common_passwords import COMMON_PASSWORDS
from core.auth.errors import AuthError
from core.auth.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    PasswordPolicyError,
    check_password_policy,
)


def policy_code(password: str) -> str | None:
    try:
        check_password_policy(password)
    except PasswordPolicyError as exc:
        return exc.code
    return None


def test_limits_are_the_documented_ones() -> None:
    assert (MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH) == (8, 128)


def test_eight_characters_accepted_seven_rejected() -> None:
    assert policy_code("xk4#pQ9z") is None
    assert policy_code("xk4#pQ9") == "password_too_short"
    assert policy_code("") == "password_too_short"


def test_128_characters_accepted_129_rejected() -> None:
    assert policy_code("aB3$" * 32) is None
    assert policy_code("aB3$" * 32 + "x") == "password_too_long"


@pytest.mark.parametrize("char", ["ж", "中", "😀", "é"])
def test_length_is_counted_in_code_points(char: str) -> None:
    # Several of these are 2-4 bytes in UTF-8; the rule must not count bytes.
    assert policy_code(char * 7) == "password_too_short"
    assert policy_code(char * 8) is None
    assert policy_code(char * 128) is None
    assert policy_code(char * 129) == "password_too_long"


def test_spaces_count_and_are_kept() -> None:
    assert policy_code("abcdefg ") is None
    assert policy_code(" abcdef ") is None


@pytest.mark.parametrize(
    "password",
    ["password", "PASSWORD", "Password1", "PaSsWoRd123", "12345678", "QWERTY123", "iLoveYou", "Qwerty123"],
)
def test_common_passwords_rejected_case_insensitively(password: str) -> None:
    with pytest.raises(PasswordPolicyError) as caught:
        check_password_policy(password)

    assert caught.value.code == "password_too_common"
    assert caught.value.message
    assert isinstance(caught.value, AuthError)


def test_uncommon_password_with_common_stem_is_accepted() -> None:
    assert policy_code("password-for-my-cat-Feliks") is None


def test_lone_surrogate_is_rejected() -> None:
    assert policy_code("abcdefgh\ud800") == "password_invalid"


def test_length_checked_before_commonness() -> None:
    assert policy_code("passwor") == "password_too_short"


def test_common_password_list_shape() -> None:
    assert len(COMMON_PASSWORDS) >= 200
    for entry in COMMON_PASSWORDS:
        assert len(entry) >= MIN_PASSWORD_LENGTH, entry
        assert entry == entry.casefold(), entry
    for must_have in ("password", "12345678", "qwerty123", "iloveyou", "password1"):
        assert must_have in COMMON_PASSWORDS
