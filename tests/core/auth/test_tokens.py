from __future__ import annotations

import hashlib
import json
import secrets
import string
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from core.auth.errors import AuthError
from core.auth.tokens import (
    MAX_TOKEN_LENGTH,
    REFRESH_TOKEN_PREFIX,
    Algorithm,
    Ed25519Key,
    HmacKey,
    InvalidTokenError,
    JwtCodec,
    TokenType,
    generate_ed25519_key,
    hash_refresh_token,
    load_ed25519_private_pem,
    load_ed25519_public_pem,
    new_refresh_token,
    refresh_token_matches,
)
from core.clock import ManualClock
from tests.core.auth.forge import b64url, b64url_decode, forge, hmac_signer, signer_for, split

ISSUER = "https://id.unibot.test"
AUDIENCE = "unibot-api"
START = datetime(2030, 1, 1, tzinfo=UTC)
TTL = timedelta(minutes=15)
ACCESS = TokenType.ACCESS

HMAC_CURRENT = HmacKey("hs-2", secrets.token_bytes(32))
HMAC_OLD = HmacKey("hs-1", secrets.token_bytes(48))
ED_CURRENT = generate_ed25519_key("ed-2")
ED_OLD = generate_ed25519_key("ed-1")

Key = HmacKey | Ed25519Key


def current_key(algorithm: Algorithm) -> Key:
    return HMAC_CURRENT if algorithm == "HS256" else ED_CURRENT


def old_key(algorithm: Algorithm) -> Key:
    return HMAC_OLD if algorithm == "HS256" else ED_OLD


def make_codec(
    algorithm: Algorithm,
    clock: ManualClock,
    signing: Key | None = None,
    verification: Iterable[Key] = (),
    *,
    issuer: str = ISSUER,
    audience: str = AUDIENCE,
    leeway: float = 0,
) -> JwtCodec:
    return JwtCodec(
        algorithm=algorithm,
        signing_key=signing or current_key(algorithm),
        verification_keys=tuple(verification),
        issuer=issuer,
        audience=audience,
        clock=clock,
        leeway=leeway,
    )


@dataclass
class Env:
    algorithm: Algorithm
    clock: ManualClock
    codec: JwtCodec

    @property
    def key(self) -> Key:
        return current_key(self.algorithm)

    def header(self, **changes: Any) -> dict[str, Any]:
        header: dict[str, Any] = {"alg": self.algorithm, "typ": "at+jwt", "kid": self.key.kid}
        header.update(changes)
        return header

    def payload(self, *, drop: Iterable[str] = (), **changes: Any) -> dict[str, Any]:
        now = int(self.clock.time())
        payload: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "user-42",
            "iat": now,
            "exp": now + 900,
            "jti": "jti-0001",
            "token_type": "access",
        }
        payload.update(changes)
        for name in drop:
            del payload[name]
        return payload

    def forged(self, header: dict[str, Any] | None = None, payload: dict[str, Any] | bytes | None = None) -> str:
        return forge(
            header if header is not None else self.header(),
            payload if payload is not None else self.payload(),
            signer_for(self.key),
        )

    def reason(self, token: Any, token_type: TokenType = ACCESS, codec: JwtCodec | None = None) -> str:
        with pytest.raises(InvalidTokenError) as caught:
            (codec or self.codec).decode(token, token_type=token_type)
        return caught.value.reason


@pytest.fixture(params=["HS256", "EdDSA"])
def env(request: pytest.FixtureRequest) -> Env:
    algorithm: Algorithm = request.param
    clock = ManualClock(START)
    return Env(algorithm, clock, make_codec(algorithm, clock))


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# --- round trips -------------------------------------------------------------


def test_round_trip(env: Env) -> None:
    encoded = env.codec.encode({"sid": "session-7", "scope": "profile"}, token_type=ACCESS, ttl=TTL, subject="user-42")

    claims = env.codec.decode(encoded.token, token_type=ACCESS)

    assert claims.subject == "user-42"
    assert claims.jti == encoded.jti
    assert claims.session_id == "session-7"
    assert claims.token_type is ACCESS
    assert claims.issued_at == encoded.issued_at == START
    assert claims.expires_at == encoded.expires_at == START + TTL
    assert claims.raw["scope"] == "profile"
    assert claims.raw["iss"] == ISSUER
    assert claims.raw["aud"] == AUDIENCE
    assert claims.raw["token_type"] == "access"


def test_emitted_header_and_claims(env: Env) -> None:
    encoded = env.codec.encode({}, token_type=ACCESS, ttl=TTL, subject="user-42")

    header, payload, _ = split(encoded.token)

    assert header == {"alg": env.algorithm, "typ": "at+jwt", "kid": env.key.kid}
    assert set(payload) == {"iss", "aud", "sub", "iat", "exp", "jti", "token_type"}
    assert payload["iat"] == int(START.timestamp())
    assert payload["exp"] == int(START.timestamp()) + 900


def test_forged_baseline_is_valid(env: Env) -> None:
    # The attack tests below reuse this hand-built token with one thing changed;
    # this proves the unchanged version passes, so each failure is due to that change.
    claims = env.codec.decode(env.forged(), token_type=ACCESS)

    assert claims.subject == "user-42"
    assert claims.session_id is None


def test_jti_is_random_url_safe_and_long(env: Env) -> None:
    jtis = {env.codec.encode({}, token_type=ACCESS, ttl=TTL, subject="u").jti for _ in range(50)}

    assert len(jtis) == 50
    for jti in jtis:
        assert set(jti) <= set(string.ascii_letters + string.digits + "-_")
        assert len(b64url_decode(jti)) >= 16


def test_explicit_jti_is_used(env: Env) -> None:
    encoded = env.codec.encode({}, token_type=ACCESS, ttl=TTL, subject="u", jti="fixed-jti")

    assert encoded.jti == "fixed-jti"
    assert env.codec.decode(encoded.token, token_type=ACCESS).jti == "fixed-jti"


def test_fractional_clock_gives_whole_second_dates(env: Env) -> None:
    env.clock.advance(0.75)

    encoded = env.codec.encode({}, token_type=ACCESS, ttl=TTL, subject="u")
    _, payload, _ = split(encoded.token)

    assert payload["iat"] == int(START.timestamp())
    assert encoded.issued_at == START
    assert env.codec.decode(encoded.token, token_type=ACCESS).expires_at == START + TTL


def test_raw_claims_are_read_only(env: Env) -> None:
    claims = env.codec.decode(env.forged(), token_type=ACCESS)

    with pytest.raises(TypeError):
        claims.raw["sub"] = "admin"  # type: ignore[index]


@pytest.mark.parametrize("name", ["iss", "aud", "sub", "iat", "exp", "nbf", "jti", "token_type"])
def test_encode_refuses_to_override_registered_claims(env: Env, name: str) -> None:
    with pytest.raises(ValueError, match="registered"):
        env.codec.encode({name: "x"}, token_type=ACCESS, ttl=TTL, subject="u")


def test_encode_validates_arguments(env: Env) -> None:
    with pytest.raises(ValueError, match="subject"):
        env.codec.encode({}, token_type=ACCESS, ttl=TTL, subject="")
    with pytest.raises(ValueError, match="ttl"):
        env.codec.encode({}, token_type=ACCESS, ttl=timedelta(milliseconds=500), subject="u")
    with pytest.raises(ValueError, match="sid"):
        env.codec.encode({"sid": 7}, token_type=ACCESS, ttl=TTL, subject="u")
    with pytest.raises(ValueError, match="jti"):
        env.codec.encode({}, token_type=ACCESS, ttl=TTL, subject="u", jti="")


def test_encode_refuses_tokens_it_could_not_decode(env: Env) -> None:
    with pytest.raises(ValueError, match="MAX_TOKEN_LENGTH"):
        env.codec.encode({"blob": "x" * MAX_TOKEN_LENGTH}, token_type=ACCESS, ttl=TTL, subject="u")


def test_encoded_token_repr_hides_the_token(env: Env) -> None:
    encoded = env.codec.encode({}, token_type=ACCESS, ttl=TTL, subject="u")

    assert encoded.token not in repr(encoded)


# --- algorithm pinning -------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE", ""])
@pytest.mark.parametrize("signature", [b"", b"junk-signature"])
def test_unsigned_tokens_are_refused(env: Env, alg: str, signature: bytes) -> None:
    token = forge(env.header(alg=alg), env.payload(), None if not signature else (lambda _: signature))

    assert env.reason(token) == "alg_not_allowed"


def test_missing_alg_is_refused(env: Env) -> None:
    header = env.header()
    del header["alg"]

    assert env.reason(env.forged(header=header)) == "alg_not_allowed"


@pytest.mark.parametrize("alg", ["hs256", "HS256 ", "EDDSA", "eddsa", "Ed25519"])
def test_alg_must_match_exactly(env: Env, alg: str) -> None:
    assert env.reason(env.forged(header=env.header(alg=alg))) == "alg_not_allowed"


@pytest.mark.parametrize(("alg", "digest"), [("HS384", "sha384"), ("HS512", "sha512")])
def test_other_hmac_algorithms_with_the_right_secret_are_refused(alg: str, digest: str) -> None:
    clock = ManualClock(START)
    env = Env("HS256", clock, make_codec("HS256", clock))
    token = forge(env.header(alg=alg), env.payload(), hmac_signer(HMAC_CURRENT.secret, digest))

    assert env.reason(token) == "alg_not_allowed"


def test_rs256_is_refused(env: Env, rsa_key: rsa.RSAPrivateKey) -> None:
    token = forge(
        env.header(alg="RS256"),
        env.payload(),
        lambda message: rsa_key.sign(message, padding.PKCS1v15(), hashes.SHA256()),
    )

    assert env.reason(token) == "alg_not_allowed"


@pytest.mark.parametrize("form", ["pem", "raw", "jwk-x"])
def test_hs256_signed_with_the_ed25519_public_key_is_refused(form: str) -> None:
    # The classic key-confusion attack: the public key is public, so if an EdDSA
    # verifier could be talked into HMAC it would accept anyone's forgery.
    clock = ManualClock(START)
    env = Env("EdDSA", clock, make_codec("EdDSA", clock))
    secret = {
        "pem": ED_CURRENT.public_pem(),
        "raw": ED_CURRENT.public_key.public_bytes_raw(),
        "jwk-x": ED_CURRENT.public_jwk()["x"].encode(),
    }[form]
    token = forge(env.header(alg="HS256"), env.payload(), hmac_signer(secret))

    assert env.reason(token) == "alg_not_allowed"


def test_tokens_do_not_cross_between_algorithms() -> None:
    clock = ManualClock(START)
    hs = make_codec("HS256", clock)
    ed = make_codec("EdDSA", clock)
    hs_token = hs.encode({}, token_type=ACCESS, ttl=TTL, subject="u").token
    ed_token = ed.encode({}, token_type=ACCESS, ttl=TTL, subject="u").token

    for codec, token in ((ed, hs_token), (hs, ed_token)):
        with pytest.raises(InvalidTokenError) as caught:
            codec.decode(token, token_type=ACCESS)
        assert caught.value.reason == "alg_not_allowed"


# --- header rules ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("jku", "https://attacker.example/jwks.json"),
        ("jwk", {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}),
        ("x5u", "https://attacker.example/cert.pem"),
        ("x5c", ["MIIBIjANBgkq"]),
        ("crit", ["b64"]),
    ],
)
def test_key_locating_headers_are_refused_even_when_correctly_signed(env: Env, name: str, value: Any) -> None:
    assert env.reason(env.forged(header=env.header(**{name: value}))) == "forbidden_header"


def test_unknown_critical_extension_is_refused(env: Env) -> None:
    assert env.reason(env.forged(header=env.header(crit=["exp"]))) == "forbidden_header"


def test_embedded_attacker_jwk_is_refused() -> None:
    clock = ManualClock(START)
    env = Env("EdDSA", clock, make_codec("EdDSA", clock))
    attacker = generate_ed25519_key(ED_CURRENT.kid)
    header = env.header(jwk=attacker.public_jwk())
    assert attacker.private_key is not None
    token = forge(header, env.payload(), attacker.private_key.sign)

    assert env.reason(token) == "forbidden_header"


def test_unknown_kid_is_refused(env: Env) -> None:
    assert env.reason(env.forged(header=env.header(kid="ghost"))) == "unknown_kid"


def test_non_string_kid_is_refused(env: Env) -> None:
    assert env.reason(env.forged(header=env.header(kid=7))) == "unknown_kid"


def test_eddsa_requires_a_kid() -> None:
    clock = ManualClock(START)
    env = Env("EdDSA", clock, make_codec("EdDSA", clock))
    header = env.header()
    del header["kid"]

    assert env.reason(env.forged(header=header)) == "missing_kid"


def test_hs256_without_kid_is_checked_against_the_current_secret_only() -> None:
    clock = ManualClock(START)
    env = Env("HS256", clock, make_codec("HS256", clock, HMAC_CURRENT, [HMAC_OLD]))
    header = env.header()
    del header["kid"]

    assert env.codec.decode(forge(header, env.payload(), hmac_signer(HMAC_CURRENT.secret)), token_type=ACCESS)
    assert env.reason(forge(header, env.payload(), hmac_signer(HMAC_OLD.secret))) == "bad_signature"


def test_token_signed_by_an_unrelated_key_with_our_kid_is_refused(env: Env) -> None:
    imposter: Key = (
        HmacKey(env.key.kid, secrets.token_bytes(32)) if env.algorithm == "HS256" else generate_ed25519_key(env.key.kid)
    )
    token = forge(env.header(), env.payload(), signer_for(imposter))

    assert env.reason(token) == "bad_signature"


@pytest.mark.parametrize("algorithm", ["HS256", "EdDSA"])
def test_key_rotation(algorithm: Algorithm) -> None:
    clock = ManualClock(START)
    before = make_codec(algorithm, clock, old_key(algorithm))
    during = make_codec(algorithm, clock, current_key(algorithm), [old_key(algorithm)])
    after = make_codec(algorithm, clock, current_key(algorithm))
    old_token = before.encode({}, token_type=ACCESS, ttl=TTL, subject="u").token
    new_token = during.encode({}, token_type=ACCESS, ttl=TTL, subject="u").token

    assert split(new_token)[0]["kid"] == current_key(algorithm).kid
    assert during.decode(old_token, token_type=ACCESS).subject == "u"
    assert during.decode(new_token, token_type=ACCESS).subject == "u"
    assert after.decode(new_token, token_type=ACCESS).subject == "u"
    with pytest.raises(InvalidTokenError) as caught:
        after.decode(old_token, token_type=ACCESS)
    assert caught.value.reason == "unknown_kid"


def test_old_kid_with_signature_from_the_current_key_is_refused(env: Env) -> None:
    # A kid picks exactly one key; a token cannot borrow another key's kid.
    codec = make_codec(env.algorithm, env.clock, env.key, [old_key(env.algorithm)])
    token = env.forged(header=env.header(kid=old_key(env.algorithm).kid))

    assert env.reason(token, codec=codec) == "bad_signature"


# --- claims ------------------------------------------------------------------


def test_wrong_audience_is_refused(env: Env) -> None:
    other = make_codec(env.algorithm, env.clock, audience="some-other-api")
    token = other.encode({}, token_type=ACCESS, ttl=TTL, subject="u").token

    assert env.reason(token) == "wrong_audience"


def test_audience_list_is_refused(env: Env) -> None:
    assert env.reason(env.forged(payload=env.payload(aud=[AUDIENCE]))) == "wrong_audience"
    assert env.reason(env.forged(payload=env.payload(aud=[AUDIENCE, "x"]))) == "wrong_audience"


def test_wrong_issuer_is_refused(env: Env) -> None:
    other = make_codec(env.algorithm, env.clock, issuer="https://evil.example")
    token = other.encode({}, token_type=ACCESS, ttl=TTL, subject="u").token

    assert env.reason(token) == "wrong_issuer"
    assert env.reason(env.forged(payload=env.payload(iss=ISSUER + "/"))) == "wrong_issuer"


@pytest.mark.parametrize("name", ["iss", "aud", "sub", "iat", "exp", "jti", "token_type"])
def test_missing_claim_is_refused(env: Env, name: str) -> None:
    assert env.reason(env.forged(payload=env.payload(drop=[name]))) == f"missing_{name}"
    nulled: dict[str, Any] = {name: None}
    assert env.reason(env.forged(payload=env.payload(**nulled))) == f"missing_{name}"


@pytest.mark.parametrize(
    ("claim", "value", "reason"),
    [
        ("sub", 42, "bad_sub"),
        ("sub", "", "bad_sub"),
        ("jti", 42, "bad_jti"),
        ("jti", "", "bad_jti"),
        ("exp", "2030-01-01", "bad_exp"),
        ("exp", True, "bad_exp"),
        ("exp", 1e300, "bad_exp"),
        ("iat", "now", "bad_iat"),
        ("iat", [1], "bad_iat"),
        ("sid", 5, "bad_sid"),
        ("nbf", "soon", "bad_nbf"),
    ],
)
def test_badly_typed_claims_are_refused(env: Env, claim: str, value: Any, reason: str) -> None:
    assert env.reason(env.forged(payload=env.payload(**{claim: value}))) == reason


@pytest.mark.parametrize("literal", ["NaN", "Infinity"])
def test_non_finite_expiry_is_refused(env: Env, literal: str) -> None:
    # json.loads accepts these non-standard literals, so they must be caught.
    body = json.dumps(env.payload()).replace(f'"exp": {env.payload()["exp"]}', f'"exp": {literal}')
    assert literal in body

    assert env.reason(env.forged(payload=body.encode())) == "bad_exp"


def test_session_id_is_exposed(env: Env) -> None:
    claims = env.codec.decode(env.forged(payload=env.payload(sid="s-1")), token_type=ACCESS)

    assert claims.session_id == "s-1"


# --- token type --------------------------------------------------------------


def test_token_of_another_type_is_refused(env: Env) -> None:
    link = env.codec.encode({}, token_type=TokenType.LINK, ttl=TTL, subject="u")
    access = env.codec.encode({}, token_type=ACCESS, ttl=TTL, subject="u")

    assert split(link.token)[0]["typ"] == "link+jwt"
    assert env.codec.decode(link.token, token_type=TokenType.LINK).token_type is TokenType.LINK
    assert env.reason(link.token, ACCESS) == "wrong_token_type"
    assert env.reason(access.token, TokenType.LINK) == "wrong_token_type"


@pytest.mark.parametrize(
    ("typ", "claim"),
    [
        ("at+jwt", "link"),
        ("link+jwt", "access"),
        ("JWT", "access"),
        (None, "access"),
        ("at+jwt", "ACCESS"),
    ],
)
def test_header_and_claim_must_both_name_the_type(env: Env, typ: str | None, claim: str) -> None:
    header = env.header(typ=typ)
    if typ is None:
        del header["typ"]

    assert env.reason(env.forged(header=header, payload=env.payload(token_type=claim))) == "wrong_token_type"


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt", "Application/At+JWT"])
def test_typ_header_compares_as_a_media_type(env: Env, typ: str) -> None:
    assert env.codec.decode(env.forged(header=env.header(typ=typ)), token_type=ACCESS).subject == "user-42"


# --- time --------------------------------------------------------------------


def test_expiry_boundary(env: Env) -> None:
    token = env.codec.encode({}, token_type=ACCESS, ttl=timedelta(seconds=900), subject="u").token

    env.clock.advance(899)
    assert env.codec.decode(token, token_type=ACCESS)
    env.clock.advance(0.999)
    assert env.clock.time() == START.timestamp() + 899.999
    assert env.codec.decode(token, token_type=ACCESS)
    env.clock.advance(0.001)
    assert env.clock.now() == START + timedelta(seconds=900)
    assert env.reason(token) == "expired"
    env.clock.advance(1)
    assert env.reason(token) == "expired"
    env.clock.advance(86400 * 365)
    assert env.reason(token) == "expired"


def test_leeway_extends_expiry(env: Env) -> None:
    codec = make_codec(env.algorithm, env.clock, leeway=30)
    token = codec.encode({}, token_type=ACCESS, ttl=timedelta(seconds=60), subject="u").token

    env.clock.advance(60 + 29.999)
    assert codec.decode(token, token_type=ACCESS)
    env.clock.advance(0.001)
    assert env.reason(token, codec=codec) == "expired"


def test_issued_at_in_the_future(env: Env) -> None:
    now = int(env.clock.time())

    assert env.codec.decode(env.forged(payload=env.payload(iat=now + 60)), token_type=ACCESS)
    assert env.reason(env.forged(payload=env.payload(iat=now + 61))) == "issued_in_future"

    lenient = make_codec(env.algorithm, env.clock, leeway=5)
    assert lenient.decode(env.forged(payload=env.payload(iat=now + 65)), token_type=ACCESS)
    assert env.reason(env.forged(payload=env.payload(iat=now + 66)), codec=lenient) == "issued_in_future"


def test_not_before_is_honoured(env: Env) -> None:
    now = int(env.clock.time())
    token = env.forged(payload=env.payload(nbf=now + 10))

    assert env.reason(token) == "not_yet_valid"
    env.clock.advance(10)
    assert env.codec.decode(token, token_type=ACCESS)


# --- tampering and malformed input -------------------------------------------


def test_tampered_payload_is_refused(env: Env) -> None:
    token = env.codec.encode({}, token_type=ACCESS, ttl=TTL, subject="user-42").token
    header, payload, signature = token.split(".")
    claims = json.loads(b64url_decode(payload))
    claims["sub"] = "admin"
    tampered = ".".join([header, b64url(json.dumps(claims).encode()), signature])

    assert env.reason(tampered) == "bad_signature"


def test_tampered_signature_is_refused(env: Env) -> None:
    token = env.codec.encode({}, token_type=ACCESS, ttl=TTL, subject="user-42").token
    header, payload, signature = token.split(".")
    flipped = bytearray(b64url_decode(signature))
    flipped[0] ^= 1

    assert env.reason(f"{header}.{payload}.{b64url(bytes(flipped))}") == "bad_signature"
    assert env.reason(f"{header}.{payload}.") == "bad_signature"


def test_shape_checks(env: Env) -> None:
    good = env.forged()
    header, payload, signature = good.split(".")

    assert env.reason(good.encode()) == "not_a_string"
    assert env.reason(None) == "not_a_string"
    assert env.reason("a" * (MAX_TOKEN_LENGTH + 1)) == "too_long"
    for bad in [
        "",
        "abc",
        f"{header}.{payload}",
        f"{good}.extra",
        f".{payload}.{signature}",
        f"{header}..{signature}",
        f"{header}=.{payload}.{signature}",
        f"{header}.{payload}.{signature}==",
        f"{header}.{payload}.{signature}\n",
        f" {good}",
        f"{header}.{payload}.{signature[:-1]}é",
        f"{header}+/.{payload}.{signature}",
    ]:
        assert env.reason(bad) == "malformed", bad


def test_unparseable_header_is_refused(env: Env) -> None:
    _, payload, signature = env.forged().split(".")

    for header in [b"not json", b"[1,2]", b'"alg"', b"{"]:
        assert env.reason(f"{b64url(header)}.{payload}.{signature}") == "malformed_header"


def test_payload_must_be_a_json_object(env: Env) -> None:
    for body in [b"[1,2,3]", b"not json", b'"text"']:
        assert env.reason(env.forged(payload=body)) == "malformed"


def test_invalid_token_error_is_an_auth_error(env: Env) -> None:
    with pytest.raises(AuthError):
        env.codec.decode("x.y.z", token_type=ACCESS)


# --- keys and JWKS -----------------------------------------------------------


def test_jwks_for_eddsa() -> None:
    clock = ManualClock(START)
    codec = make_codec("EdDSA", clock, ED_CURRENT, [ED_OLD.public_only()])

    jwks = codec.jwks()

    assert [entry["kid"] for entry in jwks["keys"]] == [ED_CURRENT.kid, ED_OLD.kid]
    for entry, key in zip(jwks["keys"], [ED_CURRENT, ED_OLD], strict=True):
        assert entry == {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64url(key.public_key.public_bytes_raw()),
            "kid": key.kid,
            "alg": "EdDSA",
            "use": "sig",
        }
        assert len(b64url_decode(entry["x"])) == 32
    json.dumps(jwks)


def test_token_verifies_with_a_key_rebuilt_from_the_jwk() -> None:
    clock = ManualClock(START)
    codec = make_codec("EdDSA", clock)
    token = codec.encode({"sid": "s"}, token_type=ACCESS, ttl=TTL, subject="user-42").token
    (entry,) = codec.jwks()["keys"]

    rebuilt = jwt.PyJWK(entry)
    # PyJWT would judge expiry by the wall clock; time is not what is tested here.
    claims = jwt.decode(
        token,
        rebuilt,
        algorithms=["EdDSA"],
        audience=AUDIENCE,
        issuer=ISSUER,
        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
    )

    assert claims["sub"] == "user-42"
    assert rebuilt.key_id == ED_CURRENT.kid


def test_jwks_for_hs256_is_empty() -> None:
    codec = make_codec("HS256", ManualClock(START), HMAC_CURRENT, [HMAC_OLD])

    assert codec.jwks() == {"keys": []}


def test_hmac_key_rules() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        HmacKey("k", b"x" * 31)
    assert HmacKey("k", b"x" * 32).kid == "k"
    with pytest.raises(TypeError):
        HmacKey("k", "x" * 32)  # type: ignore[arg-type]
    for kid in ["", "a b", "x" * 65, "ключ"]:
        with pytest.raises(ValueError, match="kid"):
            HmacKey(kid, b"x" * 32)


def test_key_reprs_hide_secrets() -> None:
    secret = secrets.token_bytes(32)

    assert secret.hex() not in repr(HmacKey("k", secret))
    assert repr(secret) not in repr(HmacKey("k", secret))
    assert "private" not in repr(ED_CURRENT).replace("private_key", "")


def test_ed25519_pem_round_trip() -> None:
    clock = ManualClock(START)
    private = load_ed25519_private_pem("pem-1", ED_CURRENT.private_pem())
    public = load_ed25519_public_pem("pem-1", ED_CURRENT.public_pem().decode())
    encrypted = load_ed25519_private_pem(
        "pem-1", ED_CURRENT.private_pem(password=b"hunter2-but-longer"), password=b"hunter2-but-longer"
    )
    signer = make_codec("EdDSA", clock, private)
    verifier = make_codec("EdDSA", clock, encrypted, [])

    token = signer.encode({}, token_type=ACCESS, ttl=TTL, subject="u").token

    assert verifier.decode(token, token_type=ACCESS).subject == "u"
    assert public.private_key is None
    assert public.public_jwk() == private.public_jwk()


def test_ed25519_loaders_refuse_other_key_types(rsa_key: rsa.RSAPrivateKey) -> None:
    from cryptography.hazmat.primitives import serialization

    private_pem = rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    with pytest.raises(ValueError, match="Ed25519"):
        load_ed25519_private_pem("k", private_pem)
    with pytest.raises(ValueError, match="Ed25519"):
        load_ed25519_public_pem("k", public_pem)


def test_ed25519_key_must_be_consistent() -> None:
    assert ED_CURRENT.private_key is not None
    with pytest.raises(ValueError, match="does not belong"):
        Ed25519Key("k", ED_CURRENT.private_key, ED_OLD.public_key)


def test_codec_construction_rules() -> None:
    clock = ManualClock(START)
    with pytest.raises(TypeError):
        make_codec("HS256", clock, ED_CURRENT)
    with pytest.raises(TypeError):
        make_codec("EdDSA", clock, ED_CURRENT, [HMAC_OLD])
    with pytest.raises(ValueError, match="private"):
        make_codec("EdDSA", clock, ED_CURRENT.public_only())
    with pytest.raises(ValueError, match="duplicate"):
        make_codec("HS256", clock, HMAC_CURRENT, [HmacKey(HMAC_CURRENT.kid, secrets.token_bytes(32))])
    with pytest.raises(ValueError, match="unsupported"):
        make_codec("RS256", clock, HMAC_CURRENT)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="leeway"):
        make_codec("HS256", clock, leeway=-1)
    with pytest.raises(ValueError, match="issuer"):
        make_codec("HS256", clock, issuer="")


# --- property tests ----------------------------------------------------------

TOKEN_ALPHABET = string.ascii_letters + string.digits + "-_.="


@cache
def fixed_codec_and_token(algorithm: Algorithm) -> tuple[JwtCodec, str]:
    codec = make_codec(algorithm, ManualClock(START))
    return codec, codec.encode({"sid": "s-1"}, token_type=ACCESS, ttl=TTL, subject="user-42").token


def segment_bytes(token: str) -> list[bytes] | None:
    try:
        return [b64url_decode(part) for part in token.split(".")]
    except ValueError:
        return None


@pytest.mark.parametrize("algorithm", ["HS256", "EdDSA"])
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_single_character_change_is_rejected(algorithm: Algorithm, data: st.DataObject) -> None:
    codec, token = fixed_codec_and_token(algorithm)
    index = data.draw(st.integers(min_value=0, max_value=len(token) - 1), label="index")
    operation = data.draw(st.sampled_from(["replace", "insert", "delete"]), label="operation")
    char = data.draw(st.sampled_from(TOKEN_ALPHABET), label="char")
    if operation == "replace":
        mutated = token[:index] + char + token[index + 1 :]
    elif operation == "insert":
        mutated = token[:index] + char + token[index:]
    else:
        mutated = token[:index] + token[index + 1 :]
    if mutated == token:
        return

    try:
        codec.decode(mutated, token_type=ACCESS)
    except InvalidTokenError:
        return
    # Accepted: legitimate only if the change hit bits that base64 decoding
    # throws away, so the signed bytes are exactly the original ones.
    assert segment_bytes(mutated) == segment_bytes(token)


@pytest.mark.parametrize("algorithm", ["HS256", "EdDSA"])
@settings(max_examples=200, deadline=None)
@given(junk=st.one_of(st.text(max_size=200), st.text(alphabet=TOKEN_ALPHABET, max_size=200)))
def test_junk_input_only_ever_raises_invalid_token(algorithm: Algorithm, junk: str) -> None:
    codec, _ = fixed_codec_and_token(algorithm)

    with pytest.raises(InvalidTokenError):
        codec.decode(junk, token_type=ACCESS)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)


@pytest.mark.parametrize("algorithm", ["HS256", "EdDSA"])
@settings(max_examples=200, deadline=None)
@given(
    header=st.dictionaries(st.sampled_from(["alg", "kid", "typ", "crit", "b64", "zip"]), json_values),
    payload=st.dictionaries(
        st.sampled_from(["iss", "aud", "sub", "iat", "exp", "nbf", "jti", "token_type", "sid"]), json_values
    ),
)
def test_arbitrary_well_formed_tokens_never_crash(
    algorithm: Algorithm, header: dict[str, Any], payload: dict[str, Any]
) -> None:
    codec, _ = fixed_codec_and_token(algorithm)
    token = forge(header, payload, signer_for(current_key(algorithm)))

    try:
        claims = codec.decode(token, token_type=ACCESS)
    except InvalidTokenError:
        return
    # Anything that gets through must really be a complete, current access token.
    assert header.get("alg") == algorithm
    assert isinstance(claims.subject, str)
    assert claims.raw["token_type"] == "access"


# --- refresh tokens ----------------------------------------------------------


def test_new_refresh_token() -> None:
    token, digest = new_refresh_token()

    assert token.startswith(REFRESH_TOKEN_PREFIX)
    body = token.removeprefix(REFRESH_TOKEN_PREFIX)
    assert set(body) <= set(string.ascii_letters + string.digits + "-_")
    assert len(b64url_decode(body)) >= 32
    assert digest == hashlib.sha256(token.encode()).hexdigest()
    assert digest == hash_refresh_token(token)
    assert token not in digest


def test_refresh_tokens_are_unique() -> None:
    tokens = {new_refresh_token()[0] for _ in range(200)}

    assert len(tokens) == 200


def test_refresh_token_matching() -> None:
    token, digest = new_refresh_token()
    other, _ = new_refresh_token()

    assert refresh_token_matches(token, digest)
    assert not refresh_token_matches(other, digest)
    assert not refresh_token_matches(token, digest.upper())
    assert not refresh_token_matches(token, "")
    assert not refresh_token_matches(token, "ünïcode")


def test_refresh_token_hashing_accepts_any_string() -> None:
    assert len(hash_refresh_token("\ud800 lone surrogate")) == 64
    assert hash_refresh_token("a") != hash_refresh_token("b")
