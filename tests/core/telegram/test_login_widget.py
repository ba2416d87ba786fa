from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode

import pytest

from core.telegram.initdata import validate_init_data
from core.telegram.login_widget import sign_login_widget, validate_login_widget
from core.telegram.user_data import MAX_USER_ID, TelegramAuthError, TelegramUser

from .factory import BOT_TOKEN, NOW, OTHER_BOT_TOKEN, clock, signed_init_data


def widget_fields(**overrides: str) -> dict[str, str]:
    fields = {
        "id": "279058397",
        "first_name": "Vladislav",
        "last_name": "Kibenko",
        "username": "vdkfrost",
        "photo_url": "https://t.me/i/userpic/320/abc.jpg",
        "auth_date": str(NOW),
    }
    fields.update(overrides)
    return fields


def signed(bot_token: str = BOT_TOKEN, **overrides: str) -> dict[str, str]:
    return sign_login_widget(widget_fields(**overrides), bot_token)


def validate(fields: dict[str, str], *, max_age: float = 86400) -> TelegramUser:
    return validate_login_widget(fields, bot_token=BOT_TOKEN, clock=clock(), max_age=max_age)


def refused(fields: dict[str, str], status: int | None = None, *, max_age: float = 86400) -> TelegramAuthError:
    with pytest.raises(TelegramAuthError) as caught:
        validate(fields, max_age=max_age)
    assert caught.value.status in (401, 422)
    if status is not None:
        assert caught.value.status == status, caught.value.reason
    return caught.value


def test_valid_widget_data_is_accepted() -> None:
    user = validate(signed())
    assert user == TelegramUser(
        id=279058397,
        first_name="Vladislav",
        last_name="Kibenko",
        username="vdkfrost",
        language_code=None,
        is_premium=False,
        photo_url="https://t.me/i/userpic/320/abc.jpg",
    )


def test_only_required_fields() -> None:
    fields = sign_login_widget({"id": "1", "first_name": "Zoë", "auth_date": str(NOW)}, BOT_TOKEN)
    assert validate(fields) == TelegramUser(1, "Zoë", None, None, None, False, None)


def test_hash_matches_an_independent_computation() -> None:
    # Recomputed here from Telegram's description rather than with the module's own helper.
    fields = widget_fields()
    check = "\n".join(f"{key}={fields[key]}" for key in sorted(fields))
    expected = hmac.new(hashlib.sha256(BOT_TOKEN.encode()).digest(), check.encode(), hashlib.sha256).hexdigest()
    assert sign_login_widget(fields, BOT_TOKEN)["hash"] == expected


def test_uppercase_hash_is_accepted() -> None:
    fields = signed()
    fields["hash"] = fields["hash"].upper()
    assert validate(fields).id == 279058397


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("id", "279058398"),
        ("first_name", "Vladislav "),
        ("username", "someone_else"),
        ("photo_url", "https://evil.example/x.jpg"),
        ("auth_date", str(NOW - 1)),
    ],
)
def test_tampered_field_is_rejected(key: str, value: str) -> None:
    fields = signed()
    fields[key] = value
    refused(fields, 401)


def test_removed_optional_field_is_rejected() -> None:
    fields = signed()
    del fields["username"]
    refused(fields, 401)


def test_last_hash_digit_changed_is_rejected() -> None:
    fields = signed()
    fields["hash"] = fields["hash"][:-1] + ("0" if fields["hash"][-1] != "0" else "1")
    refused(fields, 401)


def test_other_bots_token_is_rejected() -> None:
    refused(signed(bot_token=OTHER_BOT_TOKEN), 401)


def test_widget_fields_signed_with_the_mini_app_key_derivation_are_rejected() -> None:
    fields = widget_fields()
    secret = hmac.new(b"WebAppData", BOT_TOKEN.encode(), hashlib.sha256).digest()
    check = "\n".join(f"{key}={fields[key]}" for key in sorted(fields))
    refused({**fields, "hash": hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()}, 401)


def test_init_data_posted_to_the_widget_is_rejected() -> None:
    refused(dict(parse_qsl(signed_init_data())))


def test_widget_data_posted_as_init_data_is_rejected() -> None:
    with pytest.raises(TelegramAuthError):
        validate_init_data(urlencode(signed()), bot_token=BOT_TOKEN, clock=clock())


def test_stale_and_future_auth_date() -> None:
    assert validate(signed(auth_date=str(NOW - 86400)))
    refused(signed(auth_date=str(NOW - 86401)), 401)
    refused(signed(auth_date=str(NOW - 301)), 401, max_age=300)
    assert validate(signed(auth_date=str(NOW + 60)))
    refused(signed(auth_date=str(NOW + 61)), 401)


def test_clock_moving_past_max_age_rejects_the_same_data() -> None:
    fields = signed()
    later = clock()
    later.advance(86401)
    with pytest.raises(TelegramAuthError) as caught:
        validate_login_widget(fields, bot_token=BOT_TOKEN, clock=later)
    assert caught.value.status == 401


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("id", "abc"),
        ("id", "0"),
        ("id", "-5"),
        ("id", "007"),
        ("id", "1.0"),
        ("id", str(MAX_USER_ID + 1)),
        ("id", "9" * 40),
        ("auth_date", "soon"),
        ("auth_date", "1.5"),
        ("auth_date", "-1"),
        ("first_name", ""),
        ("first_name", "A\nlast_name=B"),
        ("last_name", "x" * 5000),
        ("query_id", "AAA"),
        ("user", '{"id":1}'),
    ],
)
def test_malformed_but_correctly_signed_fields_are_rejected(key: str, value: str) -> None:
    refused(signed(**{key: value}), 422)


@pytest.mark.parametrize("missing", ["id", "first_name", "auth_date", "hash"])
def test_missing_required_field_is_rejected(missing: str) -> None:
    fields = signed()
    del fields[missing]
    refused(fields, 422)


@pytest.mark.parametrize("hash_value", ["", "abc", "z" * 64, "0" * 63, "0" * 65])
def test_malformed_hash_is_rejected(hash_value: str) -> None:
    fields = signed()
    fields["hash"] = hash_value
    refused(fields, 422)


def test_non_string_values_are_rejected() -> None:
    fields: dict[str, object] = dict(signed())
    fields["id"] = 279058397
    with pytest.raises(TelegramAuthError) as caught:
        validate_login_widget(fields, bot_token=BOT_TOKEN, clock=clock())  # type: ignore[arg-type]
    assert caught.value.status == 422


def test_the_comparison_goes_through_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    """Behaviour, observed from outside: the digest comparison is delegated to hmac.compare_digest and
    its verdict is final (a valid hash is refused when it says no)."""
    calls: list[tuple[object, object]] = []
    real: Callable[..., bool] = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    fields = signed()
    validate(fields)
    assert calls == [(fields["hash"].encode(), fields["hash"].encode())]

    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: False)
    refused(fields, 401)


def test_sign_login_widget_refuses_a_given_hash() -> None:
    with pytest.raises(ValueError, match="hash"):
        sign_login_widget({"hash": "x"}, BOT_TOKEN)
