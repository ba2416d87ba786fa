"""EVM addresses over real HTTP: seed 003's POST /auth/address, the profile, and the ownership proof with keys
made here (eth-account), on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from core.clock import ManualClock
from tests.helpers.app import Client
from tests.webserver.test_auth_routes import bearer, register

API = "/api/v1"
# From EIP-55's test vectors.
MIXED = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def sign(account: LocalAccount, message: str) -> str:
    return "0x" + bytes(account.sign_message(encode_defunct(text=message)).signature).hex()


async def signed_in(client: Client, email: str) -> dict[str, str]:
    return bearer((await register(client, email))["access_token"])


async def profile(client: Client, auth: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = await (await client.get(f"{API}/auth/profile", headers=auth)).json()
    return body


async def test_addresses_are_stored_checksummed_and_shown(client: Client) -> None:
    auth = await signed_in(client, "a@example.org")
    response = await client.post(
        f"{API}/auth/address", json={"ethereum_address": MIXED.lower(), "base_address": MIXED}, headers=auth
    )
    assert response.status == 200, await response.text()
    assert await response.json() == {"result": "success", "message": "Addresses added successfully"}
    shown = await profile(client, auth)
    assert (shown["ethereum_address"], shown["base_address"]) == (MIXED, MIXED)
    assert shown["ethereum_address_verified"] is False
    wallet = await (await client.get(f"{API}/auth/address", headers=auth)).json()
    assert wallet["data"]["base"] == {"address": MIXED, "verified": False, "verified_at": None}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ethereum_address": MIXED.replace("5aA", "5AA")}, "ethereum_address"),  # a wrong checksum
        ({"base_address": "0x123"}, "base_address"),
        ({"base_address": "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed00"}, "base_address"),
        ({"ethereum_address": "0x" + "g" * 40}, "ethereum_address"),
        ({"ethereum_address": 42}, "ethereum_address"),
        ({}, None),
    ],
)
async def test_bad_addresses_are_422_naming_the_field(client: Client, body: dict[str, Any], field: str | None) -> None:
    auth = await signed_in(client, "b@example.org")
    response = await client.post(f"{API}/auth/address", json=body, headers=auth)
    assert response.status == 422
    refused = await response.json()
    assert refused["error_code"] == "VALIDATION_ERROR"
    if field is not None:
        assert [item["loc"] for item in refused["errors"]] == [[field]]
    assert (await profile(client, auth))["ethereum_address"] is None


async def prove(client: Client, auth: dict[str, str], key: LocalAccount, *, chain: str = "ethereum") -> str:
    issued = await client.post(
        f"{API}/auth/address/challenge", json={"chain": chain, "address": key.address}, headers=auth
    )
    assert issued.status == 200, await issued.text()
    message: str = (await issued.json())["data"]["message"]
    return message


async def test_a_signed_challenge_verifies_the_address_once(client: Client) -> None:
    auth = await signed_in(client, "c@example.org")
    key: LocalAccount = Account.create()
    message = await prove(client, auth, key, chain="base")
    assert "wants you to sign in with your Ethereum account" in message
    assert "Chain ID: 8453" in message
    body = {"chain": "base", "address": key.address, "message": message, "signature": sign(key, message)}
    verified = await client.post(f"{API}/auth/address/verify", json=body, headers=auth)
    assert verified.status == 200, await verified.text()
    assert (await verified.json())["data"]["base"]["verified"] is True
    shown = await profile(client, auth)
    assert shown["base_address"] == key.address
    assert shown["base_address_verified"] is True
    # The same signed message again: its nonce is spent.
    replay = await client.post(f"{API}/auth/address/verify", json=body, headers=auth)
    assert replay.status == 400
    assert (await replay.json())["error_code"] == "WALLET_PROOF_NOT_ISSUED"


async def test_a_signature_of_another_key_or_an_expired_message_is_refused(client: Client, clock: ManualClock) -> None:
    auth = await signed_in(client, "d@example.org")
    key: LocalAccount = Account.create()
    message = await prove(client, auth, key)
    intruder: LocalAccount = Account.create()
    body = {"chain": "ethereum", "address": key.address, "message": message, "signature": sign(intruder, message)}
    wrong = await client.post(f"{API}/auth/address/verify", json=body, headers=auth)
    assert (wrong.status, (await wrong.json())["error_code"]) == (400, "WALLET_PROOF_SIGNATURE_MISMATCH")
    garbage = await client.post(f"{API}/auth/address/verify", json={**body, "signature": "0x1234"}, headers=auth)
    assert (garbage.status, (await garbage.json())["error_code"]) == (400, "WALLET_PROOF_SIGNATURE_INVALID")
    clock.advance(601)
    body["signature"] = sign(key, message)
    late = await client.post(f"{API}/auth/address/verify", json=body, headers=auth)
    assert (late.status, (await late.json())["error_code"]) == (400, "WALLET_PROOF_EXPIRED")
    assert (await profile(client, await signed_in(client, "d2@example.org")))["ethereum_address"] is None


async def test_an_address_verified_by_one_user_is_409_for_another(client: Client) -> None:
    key: LocalAccount = Account.create()
    first = await signed_in(client, "e@example.org")
    message = await prove(client, first, key)
    body = {"chain": "ethereum", "address": key.address, "message": message, "signature": sign(key, message)}
    assert (await client.post(f"{API}/auth/address/verify", json=body, headers=first)).status == 200

    second = await signed_in(client, "f@example.org")
    issued = await client.post(
        f"{API}/auth/address/challenge", json={"chain": "base", "address": key.address}, headers=second
    )
    assert (issued.status, (await issued.json())["error_code"]) == (409, "ADDRESS_ALREADY_VERIFIED")
    # Recording it unverified stays possible (seed 003), proving it is not.
    recorded = await client.post(f"{API}/auth/address", json={"ethereum_address": key.address}, headers=second)
    assert recorded.status == 200
    assert (await profile(client, second))["ethereum_address_verified"] is False


async def test_unsupported_chain_or_bad_address_in_the_proof_is_422(client: Client) -> None:
    auth = await signed_in(client, "g@example.org")
    for body in ({"chain": "solana", "address": MIXED}, {"chain": "base", "address": "0xnope"}, {"chain": "base"}):
        response = await client.post(f"{API}/auth/address/challenge", json=body, headers=auth)
        assert response.status == 422, body
