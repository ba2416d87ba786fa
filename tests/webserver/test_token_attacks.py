"""Forged and misused tokens against the real app: every one is a 401, never a 500."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest

from core.auth.tokens import JwtCodec, TokenType, generate_ed25519_key
from core.clock import ManualClock
from storage.kv import MemoryStore
from tests.helpers.app import Client
from tests.webserver.conftest import MakeClient
from tests.webserver.test_auth_routes import API, bearer, me_status, register
from webserver.keys import CONTAINER


def b64(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")

    def pad(part: str) -> str:
        return part + "=" * (-len(part) % 4)

    return json.loads(base64.urlsafe_b64decode(pad(header))), json.loads(base64.urlsafe_b64decode(pad(payload)))


async def test_alg_none_and_other_algorithms(tmp_path: Path, client: Client) -> None:
    body = await register(client)
    header, payload = parts(body["access_token"])
    none_token = f"{b64({**header, 'alg': 'none'})}.{b64(payload)}."
    assert await me_status(client, none_token) == 401
    # The right secret with an algorithm that is not the pinned one.
    secret = (tmp_path / "jwt-secret.local").read_bytes().strip()
    for alg in ("HS384", "HS512"):
        forged = jwt.encode(payload, secret, algorithm=alg, headers={"kid": header.get("kid", "hs1")})
        assert await me_status(client, forged) == 401, alg
    # And the pinned algorithm with the right secret still works, so the checks above are meaningful.
    genuine = jwt.encode(payload, secret, algorithm="HS256", headers={k: v for k, v in header.items() if k != "alg"})
    assert await me_status(client, genuine) == 200


@pytest.mark.parametrize(
    "extra_header",
    [
        {"jku": "https://evil.example/jwks.json"},
        {"jwk": {"kty": "oct", "k": "AAAA"}},
        {"kid": "../../dev/null"},
        {"kid": "other"},
        {"x5u": "https://evil.example/cert"},
    ],
)
async def test_header_tricks(tmp_path: Path, client: Client, extra_header: dict[str, Any]) -> None:
    body = await register(client)
    header, payload = parts(body["access_token"])
    secret = (tmp_path / "jwt-secret.local").read_bytes().strip()
    forged = jwt.encode(payload, secret, algorithm="HS256", headers={**header, **extra_header})
    assert await me_status(client, forged) == 401


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("aud", "someone-else"),
        ("iss", "evil"),
        ("token_type", "refresh"),
        ("sub", "99999"),
        ("ver", 5),
        ("sid", "unknown"),
    ],
)
async def test_wrong_claims(tmp_path: Path, client: Client, claim: str, value: Any) -> None:
    body = await register(client)
    header, payload = parts(body["access_token"])
    secret = (tmp_path / "jwt-secret.local").read_bytes().strip()
    forged = jwt.encode({**payload, claim: value}, secret, algorithm="HS256", headers=header)
    status = await me_status(client, forged)
    # An unknown session id alone is harmless (the session is not revoked), everything else is refused.
    assert status == (200 if claim == "sid" else 401)


async def test_tampered_signature_and_payload(client: Client) -> None:
    body = await register(client)
    token = body["access_token"]
    head, payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    assert await me_status(client, f"{head}.{payload}.{flipped}") == 401
    _, claims = parts(token)
    assert await me_status(client, f"{head}.{b64({**claims, 'sub': str(int(claims['sub']) + 1)})}.{signature}") == 401


async def test_eddsa_tokens_and_jwks(make_client: MakeClient, tmp_path: Path) -> None:
    key = generate_ed25519_key("ed-2026")
    old = generate_ed25519_key("ed-2025")
    client = await make_client(
        auth={
            "algorithm": "EdDSA",
            "ed25519_private_key": key.private_pem().decode(),
            "ed25519_kid": "ed-2026",
            "ed25519_previous_public_keys": [old.public_pem().decode()],
            "ed25519_previous_kids": ["ed-2025"],
        },
        ratelimit={"auth_limit": 1000},
    )
    body = await register(client)
    jwks = await (await client.get("/.well-known/jwks.json")).json()
    assert {k["kid"] for k in jwks["keys"]} == {"ed-2026", "ed-2025"}
    assert all(k["kty"] == "OKP" and k["crv"] == "Ed25519" for k in jwks["keys"])
    published = jwt.PyJWK(next(k for k in jwks["keys"] if k["kid"] == "ed-2026"))
    # The app runs on a manual clock set in 2030; an outside verifier with the real time checks only the keys.
    claims = jwt.decode(
        body["access_token"],
        published,
        algorithms=["EdDSA"],
        audience="unibot-api",
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["sub"] == str(body["user_id"])
    header, payload = parts(body["access_token"])
    assert header["kid"] == "ed-2026"
    # HS256 signed with the public key bytes: the classic algorithm-confusion forgery.
    for public in (key.public_pem(), base64.urlsafe_b64decode(jwks["keys"][0]["x"] + "==")):
        # Built by hand: PyJWT itself refuses to use a PEM public key as an HMAC secret.
        forged = _hs256(payload, public, "ed-2026")
        assert await me_status(client, forged) == 401
    # A token signed by the previous key (still published) is accepted: rotation without a cliff.
    container = client.app[CONTAINER]
    old_codec = JwtCodec(
        algorithm="EdDSA", signing_key=old, issuer="unibot", audience="unibot-api", clock=container.clock
    )
    old_token = old_codec.encode(
        {"sid": payload["sid"], "ver": 0},
        token_type=TokenType.ACCESS,
        ttl=timedelta(minutes=5),
        subject=str(body["user_id"]),
    )
    assert await me_status(client, old_token.token) == 200


def _hs256(payload: dict[str, Any], key: bytes, kid: str) -> str:
    signing_input = f"{b64({'alg': 'HS256', 'typ': 'at+jwt', 'kid': kid})}.{b64(payload)}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


async def test_garbage_bearer_values_never_500(client: Client) -> None:
    for value in ("x" * 10000, "..", "a.b", "\u00e9.\u00e9.\u00e9", "eyJ.eyJ.sig", "null", "Bearer Bearer"):
        response = await client.get(f"{API}/users/me", headers=bearer(value))
        assert response.status in (400, 401), value


async def test_revocation_survives_restart_without_redis(make_client: MakeClient, clock: ManualClock) -> None:
    client = await make_client(ratelimit={"auth_limit": 1000})
    body = await register(client)
    other = await (
        await client.post(f"{API}/auth/login", json={"email": "ann@example.org", "password": "correct horse battery"})
    ).json()
    await client.post(f"{API}/auth/logout", headers=bearer(body["access_token"]))
    assert await me_status(client, body["access_token"]) == 401
    # A new process: a fresh, empty in-process store over the same database.
    restarted = await make_client(store=MemoryStore(), ratelimit={"auth_limit": 1000})
    assert await me_status(restarted, body["access_token"]) == 401
    assert await me_status(restarted, other["access_token"]) == 200
