from __future__ import annotations

import base64
import os

import pytest

from core.profiles.crypto import KeyRing, KeyRingError, SecretUnreadable, context, generate_key, key_id_of

KEY_A = bytes(range(32))
KEY_B = bytes(range(100, 132))
SECRET = b"1BVtsOK4Bu-the-session-text-of-a-profile"
HERE = context("profile.session", 7, "447700900123")


def ring(*ids: str, current: str | None = None) -> KeyRing:
    keys = {"a": KEY_A, "b": KEY_B}
    return KeyRing({key_id: keys[key_id] for key_id in ids}, current or ids[0])


def test_round_trip() -> None:
    keys = ring("a")
    sealed = keys.seal(SECRET, HERE)
    assert keys.open(sealed, HERE) == SECRET
    assert key_id_of(sealed) == "a"
    assert keys.open(keys.seal(b"", HERE), HERE) == b""


def test_no_plaintext_inside_and_fresh_nonce_each_time() -> None:
    keys = ring("a")
    first, second = keys.seal(SECRET, HERE), keys.seal(SECRET, HERE)
    assert first != second
    for sealed in (first, second):
        assert SECRET not in sealed
        assert SECRET[:8] not in sealed
        assert base64.b64encode(SECRET)[:12] not in sealed


def test_wrong_key_is_a_clear_domain_error() -> None:
    sealed = ring("a").seal(SECRET, HERE)
    impostor = KeyRing({"a": KEY_B}, "a")  # same id, other key material
    with pytest.raises(SecretUnreadable) as caught:
        impostor.open(sealed, HERE)
    assert caught.value.reason == "mismatch"
    assert caught.value.status_hint == 500
    assert "'a'" in caught.value.message

    with pytest.raises(SecretUnreadable) as unknown:
        ring("b").open(sealed, HERE)
    assert unknown.value.reason == "unknown_key"
    assert "'a'" in unknown.value.message


def test_value_moved_to_another_row_does_not_open() -> None:
    keys = ring("a")
    sealed = keys.seal(SECRET, HERE)
    for elsewhere in (
        context("profile.session", 8, "447700900123"),  # another owner
        context("profile.session", 7, "447700900124"),  # another phone
        context("profile.pending", 7, "447700900123"),  # another purpose
        context("profile.session", "7447700900123"),  # the same characters, split differently
    ):
        with pytest.raises(SecretUnreadable):
            keys.open(sealed, elsewhere)


@pytest.mark.parametrize("position", [0, 1, 2, 5, 20, -1])
def test_tampering_detected(position: int) -> None:
    keys = ring("a", "b")
    sealed = bytearray(keys.seal(SECRET, HERE))
    sealed[position] ^= 0x01
    with pytest.raises(SecretUnreadable):
        keys.open(bytes(sealed), HERE)


@pytest.mark.parametrize(
    "value", [b"", b"\x01", b"\x02\x01a" + bytes(40), b"\x01\x01a" + bytes(10), b"\x01\x01!" + bytes(40)]
)
def test_malformed_values(value: bytes) -> None:
    with pytest.raises(SecretUnreadable) as caught:
        ring("a").open(value, HERE)
    assert caught.value.reason == "malformed"


def test_rotation_reseals_under_the_current_key() -> None:
    old = ring("a").seal(SECRET, HERE)
    both = ring("a", "b", current="b")
    assert both.needs_rotation(old)
    rotated = both.rotate(old, HERE)
    assert key_id_of(rotated) == "b"
    assert not both.needs_rotation(rotated)
    assert both.rotate(rotated, HERE) is rotated  # already current: left as it is

    only_new = ring("b")
    assert only_new.open(rotated, HERE) == SECRET
    with pytest.raises(SecretUnreadable):
        only_new.open(old, HERE)
    with pytest.raises(SecretUnreadable):
        both.rotate(old, context("profile.session", 8, "447700900123"))


def test_parse_spec() -> None:
    a, b = base64.b64encode(KEY_A).decode(), base64.urlsafe_b64encode(KEY_B).decode().rstrip("=")
    keys = KeyRing.parse(f" k1:{a} , k2:{b} ")
    assert keys.current_id == "k1"
    assert keys.key_ids == {"k1", "k2"}
    assert KeyRing.parse(f"k1:{a},k2:{b}", current="k2").current_id == "k2"
    sealed = KeyRing.parse(f"k2:{b}").seal(SECRET, HERE)
    assert keys.open(sealed, HERE) == SECRET  # the URL-safe, unpadded spelling decodes to the same key
    assert "k1" in repr(keys)
    assert a not in repr(keys)


@pytest.mark.parametrize(
    ("spec", "current", "message"),
    [
        ("", None, "no keys given"),
        (" , ", None, "no keys given"),
        ("{key}", None, "entry 1 is not"),
        ("k1:{key},bad id:{key}", None, "entry 2 is not"),
        ("k1:{key},k1:{key}", None, "appears twice"),
        ("k1:{short}", None, "16 bytes long"),
        ("k1:{key}!", None, "not valid base64"),
        ("k1:{key}", "k9", "'k9' is not in the key ring"),
    ],
)
def test_parse_errors_never_echo_the_key(spec: str, current: str | None, message: str) -> None:
    key = generate_key()
    short = base64.b64encode(os.urandom(16)).decode()
    with pytest.raises(KeyRingError, match=message) as caught:
        KeyRing.parse(spec.format(key=key, short=short), current=current)
    text = str(caught.value)
    assert key not in text
    assert key[:10] not in text
    assert short not in text


def test_generated_keys_are_256_bits() -> None:
    key = generate_key()
    assert len(base64.b64decode(key)) == 32
    assert key != generate_key()


def test_constructor_checks() -> None:
    with pytest.raises(KeyRingError, match="empty"):
        KeyRing({}, "a")
    with pytest.raises(KeyRingError, match="31 bytes"):
        KeyRing({"a": KEY_A[:31]}, "a")
    with pytest.raises(KeyRingError, match="not in the key ring"):
        KeyRing({"a": KEY_A}, "b")
