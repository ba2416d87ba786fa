"""Keys derived from the token-signing secret for other server-side uses."""

from __future__ import annotations

from pathlib import Path

from core.auth.keys import derived_key as derive
from core.auth.tokens import generate_ed25519_key
from core.settings import Settings
from run import key_config
from tests.helpers.app import test_settings as build_settings


def derived_key(settings: Settings, purpose: str) -> bytes:
    return derive(key_config(settings), purpose)


def test_derived_keys_follow_the_signing_secret_and_the_purpose(tmp_path: Path) -> None:
    first = build_settings(tmp_path, auth={"jwt_secret": "a" * 48})
    again = build_settings(tmp_path / "elsewhere", auth={"jwt_secret": "a" * 48})
    other = build_settings(tmp_path, auth={"jwt_secret": "b" * 48})
    key = derived_key(first, "login-throttle")
    assert len(key) == 32
    # Every replica with the same secret derives the same key...
    assert derived_key(again, "login-throttle") == key
    # ...a different secret or purpose gives another, and the secret itself never is the key.
    assert derived_key(other, "login-throttle") != key
    assert derived_key(first, "something-else") != key
    assert b"a" * 32 not in key


def test_local_mode_and_eddsa_derive_keys_too(tmp_path: Path) -> None:
    local = build_settings(tmp_path)
    assert derived_key(local, "login-throttle") == derived_key(build_settings(tmp_path), "login-throttle")
    ed = generate_ed25519_key("ed-1")
    eddsa = build_settings(
        tmp_path, auth={"algorithm": "EdDSA", "ed25519_private_key": ed.private_pem().decode(), "ed25519_kid": "ed-1"}
    )
    assert derived_key(eddsa, "login-throttle") != derived_key(local, "login-throttle")
