"""Agreement with implementations written by other people, so a shared misreading of the spec would show."""

from __future__ import annotations

from datetime import timedelta

import init_data_py
import pytest
from telegram_webapp_auth.auth import TelegramAuthenticator, generate_secret_key
from telegram_webapp_auth.errors import InvalidInitDataError

from core.telegram.initdata import (
    Ed25519Check,
    ed25519_public_key_hex,
    sign_init_data,
    sign_init_data_ed25519,
    validate_init_data,
)
from core.telegram.user_data import TelegramAuthError

from .factory import BOT_ID, BOT_TOKEN, NOW, OTHER_BOT_TOKEN, USER, clock, init_fields

PRIVATE_KEY = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")


def test_init_data_signed_by_init_data_py_is_accepted() -> None:
    fields = init_fields()
    del fields["auth_date"]
    raw = init_data_py.sign(fields, BOT_TOKEN, auth_date=NOW)
    auth = validate_init_data(raw, bot_token=BOT_TOKEN, clock=clock())
    assert auth.user == USER
    assert auth.start_param == fields["start_param"]
    assert auth.chat_instance == fields["chat_instance"]


def test_init_data_py_output_with_plus_encoded_spaces_is_accepted() -> None:
    raw = init_data_py.sign(
        {"user": '{"id":5,"first_name":"Ana Lu\u00edsa"}', "start_param": "a b"}, BOT_TOKEN, auth_date=NOW
    )
    assert "+" in raw
    auth = validate_init_data(raw, bot_token=BOT_TOKEN, clock=clock())
    assert (auth.user.first_name, auth.start_param) == ("Ana Lu\u00edsa", "a b")


def test_init_data_py_signature_for_another_bot_is_rejected() -> None:
    fields = init_fields()
    del fields["auth_date"]
    raw = init_data_py.sign(fields, OTHER_BOT_TOKEN, auth_date=NOW)
    with pytest.raises(TelegramAuthError) as caught:
        validate_init_data(raw, bot_token=BOT_TOKEN, clock=clock())
    assert caught.value.status == 401


def test_our_init_data_is_accepted_by_init_data_py() -> None:
    raw = sign_init_data(init_fields(), BOT_TOKEN)
    parsed = init_data_py.validate_by_hash(raw, BOT_TOKEN, expires_in=None)
    assert parsed.user is not None
    assert parsed.user.id == USER.id
    assert not init_data_py.is_valid_by_hash(raw, OTHER_BOT_TOKEN, expires_in=None)


def test_our_init_data_is_accepted_by_telegram_webapp_auth() -> None:
    raw = sign_init_data(init_fields(), BOT_TOKEN)
    parsed = TelegramAuthenticator(generate_secret_key(BOT_TOKEN)).validate(raw)
    assert parsed.user.id == USER.id
    assert parsed.start_param == "ref_42"
    other = TelegramAuthenticator(generate_secret_key(OTHER_BOT_TOKEN))
    with pytest.raises(InvalidInitDataError, match="Invalid data"):
        other.validate(raw, expr_in=timedelta(days=36500))


def test_our_ed25519_signature_is_accepted_by_init_data_py() -> None:
    raw = sign_init_data_ed25519(init_fields(), bot_token=BOT_TOKEN, bot_id=BOT_ID, private_key=PRIVATE_KEY)
    public_key = ed25519_public_key_hex(PRIVATE_KEY)
    init_data_py.validate_by_signature(raw, BOT_ID, public_key=public_key, expires_in=None)
    init_data_py.validate_by_hash(raw, BOT_TOKEN, expires_in=None)  # signature is inside the HMAC
    assert not init_data_py.is_valid_by_signature(raw, BOT_ID + 1, public_key=public_key, expires_in=None)
    check = Ed25519Check(bot_id=BOT_ID, public_key_hex=public_key, required=True)
    assert validate_init_data(raw, bot_token=BOT_TOKEN, clock=clock(), ed25519=check).user == USER
