from __future__ import annotations

import hashlib
import hmac
import os
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, urlencode

import pytest
from aiogram.utils import web_app_signature as aiogram_ed25519
from aiogram.utils.web_app import check_webapp_signature as aiogram_check_hmac

from core.telegram.initdata import (
    MAX_INIT_DATA_LENGTH,
    TELEGRAM_ED25519_PRODUCTION_KEY,
    TELEGRAM_ED25519_TEST_KEY,
    Ed25519Check,
    WebAppAuth,
    ed25519_public_key_hex,
    sign_init_data,
    sign_init_data_ed25519,
    validate_init_data,
)
from core.telegram.login_widget import sign_login_widget
from core.telegram.user_data import MAX_USER_ID, TelegramAuthError, TelegramUser

from .factory import (
    BOT_ID,
    BOT_TOKEN,
    NOW,
    OTHER_BOT_TOKEN,
    START,
    USER,
    clock,
    init_fields,
    signed_init_data,
    user_json,
)

TEST_PRIVATE_KEY = bytes(range(32))
TEST_PUBLIC_KEY = ed25519_public_key_hex(TEST_PRIVATE_KEY)


def validate(raw: str, *, max_age: float = 86400, ed25519: Ed25519Check | None = None) -> WebAppAuth:
    return validate_init_data(raw, bot_token=BOT_TOKEN, clock=clock(), max_age=max_age, ed25519=ed25519)


def refused(
    raw: str, status: int | None = None, *, max_age: float = 86400, ed25519: Ed25519Check | None = None
) -> TelegramAuthError:
    with pytest.raises(TelegramAuthError) as caught:
        validate(raw, max_age=max_age, ed25519=ed25519)
    if status is not None:
        assert caught.value.status == status, caught.value.reason
    assert caught.value.status in (401, 422)
    return caught.value


def replace_field(raw: str, key: str, value: str) -> str:
    """Change one field's value but keep the original hash."""
    pairs = [(k, value if k == key else v) for k, v in parse_qsl(raw, keep_blank_values=True)]
    return urlencode(pairs, quote_via=quote)


def ed25519_signed(**overrides: str) -> str:
    return sign_init_data_ed25519(
        init_fields(**overrides), bot_token=BOT_TOKEN, bot_id=BOT_ID, private_key=TEST_PRIVATE_KEY
    )


# --- accepted -------------------------------------------------------------------------------------------


def test_valid_init_data_is_accepted_with_every_field() -> None:
    raw = signed_init_data()
    auth = validate(raw)
    assert auth.user == USER
    assert auth.auth_date == START
    assert auth.auth_date.tzinfo is UTC
    assert auth.query_id == "AAHdF6IQAAAAAN0XohDhrOrc"
    assert auth.chat_type == "private"
    assert auth.chat_instance == "-8279429361728417853"
    assert auth.start_param == "ref_42"
    hash_value = dict(parse_qsl(raw))["hash"]
    assert auth.fingerprint == hashlib.sha256(hash_value.encode()).hexdigest()


def test_minimal_init_data_defaults_optional_fields() -> None:
    raw = sign_init_data({"user": user_json(), "auth_date": str(NOW)}, BOT_TOKEN)
    auth = validate(raw)
    assert auth.user == TelegramUser(USER.id, USER.first_name, None, None, None, False, None)
    assert (auth.query_id, auth.chat_type, auth.chat_instance, auth.start_param) == (None, None, None, None)


def test_signed_data_verifies_with_aiogram_directly() -> None:
    assert aiogram_check_hmac(BOT_TOKEN, signed_init_data())


def test_uppercase_hash_is_the_same_credential() -> None:
    raw = signed_init_data()
    head, _, hash_value = raw.rpartition("&hash=")
    upper = validate(f"{head}&hash={hash_value.upper()}")
    assert upper == validate(raw)


def test_field_order_and_plus_encoded_spaces_do_not_matter() -> None:
    fields = init_fields(start_param="a b")
    digest = dict(parse_qsl(sign_init_data(fields, BOT_TOKEN)))["hash"]
    shuffled = [*reversed(list(fields.items())), ("hash", digest)]
    auth = validate(urlencode(shuffled))  # quote_plus: spaces become '+'
    assert auth.start_param == "a b"


def test_user_id_at_two_to_the_53_is_accepted() -> None:
    assert validate(signed_init_data(user=user_json(id=MAX_USER_ID))).user.id == MAX_USER_ID


# --- forged or altered ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("user", user_json(id=1)),
        ("user", init_fields()["user"].replace("vdkfrost", "vdkfrosT")),
        ("auth_date", str(NOW - 1)),
        ("query_id", "AAHdF6IQAAAAAN0XohDhrOrd"),
        ("chat_type", "group"),
        ("start_param", "ref_43"),
    ],
)
def test_changed_field_is_rejected(key: str, value: str) -> None:
    refused(replace_field(signed_init_data(), key, value), 401)


def test_added_field_is_rejected() -> None:
    refused(signed_init_data() + "&can_send_after=10", 401)


def test_removed_field_is_rejected() -> None:
    raw = signed_init_data()
    pairs = [(k, v) for k, v in parse_qsl(raw) if k != "start_param"]
    refused(urlencode(pairs, quote_via=quote), 401)


def test_other_bots_token_is_rejected() -> None:
    refused(signed_init_data(bot_token=OTHER_BOT_TOKEN), 401)


@pytest.mark.parametrize(
    "hash_value",
    ["", "abc", "0" * 63, "0" * 65, "g" * 64, " " + "0" * 63, "０" * 64, "0x" + "0" * 62],
    ids=["empty", "short", "63", "65", "non-hex", "space", "fullwidth", "0x"],
)
def test_malformed_hash_is_rejected(hash_value: str) -> None:
    head, _, _ = signed_init_data().rpartition("&hash=")
    refused(f"{head}&hash={quote(hash_value, safe='')}", 422)


def test_missing_hash_is_rejected() -> None:
    head, _, _ = signed_init_data().rpartition("&hash=")
    refused(head, 422)


def test_valid_looking_but_wrong_hash_is_rejected() -> None:
    head, _, hash_value = signed_init_data().rpartition("&hash=")
    last = "0" if hash_value[-1] != "0" else "1"
    refused(f"{head}&hash={hash_value[:-1]}{last}", 401)


def test_login_widget_data_sent_as_init_data_is_rejected() -> None:
    widget = sign_login_widget({"id": str(USER.id), "first_name": "A", "auth_date": str(NOW)}, BOT_TOKEN)
    refused(urlencode(widget))


def test_init_data_signed_with_the_widget_key_derivation_is_rejected() -> None:
    fields = init_fields()
    secret = hashlib.sha256(BOT_TOKEN.encode()).digest()
    check = "\n".join(f"{k}={fields[k]}" for k in sorted(fields))
    digest = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    refused(urlencode({**fields, "hash": digest}, quote_via=quote), 401)


# --- freshness ------------------------------------------------------------------------------------------


def test_stale_auth_date_is_rejected_just_past_max_age() -> None:
    raw = signed_init_data()
    later = clock()
    later.advance(86400)
    assert validate_init_data(raw, bot_token=BOT_TOKEN, clock=later).user.id == USER.id
    later.advance(1)
    with pytest.raises(TelegramAuthError) as caught:
        validate_init_data(raw, bot_token=BOT_TOKEN, clock=later)
    assert caught.value.status == 401


def test_custom_max_age() -> None:
    refused(signed_init_data(auth_date=str(NOW - 301)), 401, max_age=300)
    assert validate(signed_init_data(auth_date=str(NOW - 300)), max_age=300)


def test_future_auth_date_beyond_skew_is_rejected() -> None:
    assert validate(signed_init_data(auth_date=str(NOW + 60)))
    refused(signed_init_data(auth_date=str(NOW + 61)), 401)
    refused(signed_init_data(auth_date=str(NOW + 10**9)), 401)


@pytest.mark.parametrize(
    "auth_date",
    ["", "abc", "1.5", "-1", "+1893456000", " 1893456000", "1e9", "0x10", "١٢٣", "01893456000", "9" * 11],
)
def test_auth_date_that_is_not_a_plain_integer_is_rejected(auth_date: str) -> None:
    # Correctly signed, so only the parsing can refuse it.
    refused(signed_init_data(auth_date=auth_date), 422)


def test_missing_auth_date_is_rejected() -> None:
    fields = init_fields()
    del fields["auth_date"]
    refused(sign_init_data(fields, BOT_TOKEN), 422)


# --- structure ------------------------------------------------------------------------------------------


def test_duplicate_keys_are_rejected() -> None:
    raw = signed_init_data()
    refused(f"auth_date={NOW}&{raw}", 422)
    refused(f"{raw}&hash={dict(parse_qsl(raw))['hash']}", 422)
    # Percent-encoded key names are decoded before the duplicate check.
    refused(f"{raw}&auth%5Fdate={NOW}", 422)


def test_blank_field_aiogram_would_ignore_is_rejected() -> None:
    raw = signed_init_data() + "&chat="
    assert aiogram_check_hmac(BOT_TOKEN, raw), "aiogram leaves blank fields out of the data-check-string"
    refused(raw, 422)


def test_newline_in_a_value_cannot_re_split_a_signed_payload() -> None:
    # Moving chat_type into chat_instance keeps the newline-joined data-check-string byte for byte.
    fields = init_fields()
    genuine = dict(parse_qsl(sign_init_data(fields, BOT_TOKEN)))
    forged_fields = {k: v for k, v in genuine.items() if k != "chat_type"}
    forged_fields["chat_instance"] = f"{fields['chat_instance']}\nchat_type={fields['chat_type']}"
    forged = urlencode(forged_fields, quote_via=quote)
    assert aiogram_check_hmac(BOT_TOKEN, forged), "the naive check accepts the re-split payload"
    refused(forged, 422)


@pytest.mark.parametrize(
    "user",
    [
        "not json",
        "{",
        "[1,2]",
        '"a string"',
        "42",
        "null",
        "{}",
        user_json(id="279058397"),
        user_json(id=279058397.0),
        user_json(id=True),
        user_json(id=None),
        user_json(id=0),
        user_json(id=-5),
        user_json(id=MAX_USER_ID + 1),
        user_json(id=10**30),
        '{"id":' + "9" * 5000 + ',"first_name":"A"}',
        '{"id":NaN,"first_name":"A"}',
        '{"id":1,"id":2,"first_name":"A"}',
        '{"id":1}',
        user_json(first_name=5),
        user_json(first_name=None),
        user_json(last_name=None),
        user_json(username=["x"]),
        user_json(is_premium="yes"),
        user_json(photo_url=1),
        "[" * 1200 + "]" * 1200,
    ],
)
def test_malformed_user_is_rejected(user: str) -> None:
    # Correctly signed, so only the parsing can refuse it.
    refused(signed_init_data(user=user), 422)


def test_missing_user_is_rejected() -> None:
    fields = init_fields()
    del fields["user"]
    refused(sign_init_data(fields, BOT_TOKEN), 422)


def test_oversized_input_is_rejected_before_parsing() -> None:
    raw = signed_init_data(start_param="x" * MAX_INIT_DATA_LENGTH)
    refused(raw, 422)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "&",
        "=",
        "hash",
        "%",
        "a=%zz",
        "a=%ff&hash=" + "0" * 64,
        "user=%E2%82&auth_date=1&hash=" + "0" * 64,
        "\x00\x01\x02",
        "é=ü",
        "user={}&auth_date=1&hash=" + "0" * 64 + "&",
        "&user={}",
        "a b=c",
        "USER=x",
        "user=%0A",
        "auth_date=1;hash=" + "0" * 64,
    ],
)
def test_garbage_is_rejected_as_malformed(raw: str) -> None:
    refused(raw, 422)


def test_random_bytes_never_raise_anything_else() -> None:
    for _ in range(300):
        blob = os.urandom(64).decode("latin-1")
        with pytest.raises(TelegramAuthError):
            validate(blob)


def test_non_text_input_is_malformed() -> None:
    refused(signed_init_data().encode(), 422)  # type: ignore[arg-type]


def test_sign_init_data_refuses_a_given_hash() -> None:
    with pytest.raises(ValueError, match="hash"):
        sign_init_data({"hash": "x", "auth_date": "1"}, BOT_TOKEN)


def test_empty_bot_token_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="bot_token"):
        validate_init_data(signed_init_data(), bot_token="", clock=clock())


# --- signature field and Ed25519 ------------------------------------------------------------------------


def test_signature_field_is_covered_by_the_hmac_like_aiogram() -> None:
    raw = ed25519_signed()
    assert aiogram_check_hmac(BOT_TOKEN, raw)
    assert validate(raw).user == USER  # no Ed25519 check configured: the HMAC alone decides
    pairs = [(k, v) for k, v in parse_qsl(raw) if k != "signature"]
    stripped = urlencode(pairs, quote_via=quote)
    refused(stripped, 401)


def test_ed25519_signature_from_test_key_is_accepted() -> None:
    check = Ed25519Check(bot_id=BOT_ID, public_key_hex=TEST_PUBLIC_KEY, required=True)
    raw = ed25519_signed()
    assert aiogram_ed25519.check_webapp_signature(BOT_ID, raw, bytes.fromhex(TEST_PUBLIC_KEY))
    assert validate(raw, ed25519=check).user == USER


def test_ed25519_signature_for_another_bot_id_is_rejected() -> None:
    check = Ed25519Check(bot_id=BOT_ID + 1, public_key_hex=TEST_PUBLIC_KEY)
    refused(ed25519_signed(), 401, ed25519=check)


def test_payload_signed_with_a_test_key_fails_against_the_production_key() -> None:
    check = Ed25519Check(bot_id=BOT_ID, public_key_hex=TELEGRAM_ED25519_PRODUCTION_KEY)
    refused(ed25519_signed(), 401, ed25519=check)
    check_test_env = Ed25519Check(bot_id=BOT_ID, public_key_hex=TELEGRAM_ED25519_TEST_KEY)
    refused(ed25519_signed(), 401, ed25519=check_test_env)


def test_required_signature_missing_is_rejected() -> None:
    check = Ed25519Check(bot_id=BOT_ID, public_key_hex=TEST_PUBLIC_KEY, required=True)
    refused(signed_init_data(), 401, ed25519=check)


def test_optional_signature_missing_is_accepted() -> None:
    check = Ed25519Check(bot_id=BOT_ID, public_key_hex=TEST_PUBLIC_KEY, required=False)
    assert validate(signed_init_data(), ed25519=check).user == USER


@pytest.mark.parametrize(
    "signature",
    ["abc", "A" * 85, "A" * 87, "+" * 86, "A" * 84 + "==", "A" * 85 + "B"],
    ids=["short", "85", "87", "std-alphabet", "padded", "non-canonical"],
)
def test_malformed_signature_is_rejected_when_checked(signature: str) -> None:
    check = Ed25519Check(bot_id=BOT_ID, public_key_hex=TEST_PUBLIC_KEY)
    raw = sign_init_data(init_fields(signature=signature), BOT_TOKEN)  # HMAC-valid on purpose
    refused(raw, 422, ed25519=check)


def test_signature_made_over_different_fields_is_rejected() -> None:
    check = Ed25519Check(bot_id=BOT_ID, public_key_hex=TEST_PUBLIC_KEY)
    other = dict(parse_qsl(ed25519_signed(start_param="other")))["signature"]
    raw = sign_init_data(init_fields(signature=other), BOT_TOKEN)
    refused(raw, 401, ed25519=check)


@pytest.mark.parametrize(
    ("bot_id", "key"),
    [(0, TEST_PUBLIC_KEY), (-1, TEST_PUBLIC_KEY), (True, TEST_PUBLIC_KEY), (1, "ab"), (1, "zz" * 32)],
)
def test_ed25519_configuration_is_validated(bot_id: int, key: str) -> None:
    with pytest.raises(ValueError, match=r"bot_id|public_key_hex"):
        Ed25519Check(bot_id=bot_id, public_key_hex=key)


def test_auth_date_is_returned_as_aware_utc_datetime() -> None:
    auth = validate(signed_init_data(auth_date=str(NOW - 5)))
    assert auth.auth_date == datetime.fromtimestamp(NOW - 5, UTC)


def test_same_payload_has_a_stable_fingerprint_and_different_payloads_differ() -> None:
    first = validate(signed_init_data())
    again = validate(signed_init_data())
    other = validate(signed_init_data(query_id="another"))
    assert first.fingerprint == again.fingerprint != other.fingerprint
