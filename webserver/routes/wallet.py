"""EVM addresses over REST: seed 003's POST /auth/address, and the ownership proof (Sign-In with Ethereum)."""

from __future__ import annotations

import sys

from aiohttp import web

from core.wallet.service import WalletDTO, WalletService
from webserver.api import UOW, Api, model_response, route
from webserver.schemas.wallet import (
    AddressesIn,
    AddressesOut,
    ChallengeData,
    ChallengeIn,
    ChallengeOut,
    VerifyIn,
    WalletData,
    WalletOut,
)
from webserver.security import AUTH

PREFIX = "/api/v1"


def create_api() -> Api:
    return Api.collect(sys.modules[__name__])


def wallet_out(wallet: WalletDTO) -> web.Response:
    return model_response(WalletOut(data=WalletData.model_validate(wallet, from_attributes=True)))


@route(
    "POST",
    f"{PREFIX}/auth/address",
    summary="Record EVM addresses",
    tags=["wallet"],
    auth=True,
    body=AddressesIn,
    response=AddressesOut,
    errors=[403],
    uow="write",
    description="Takes ethereum_address and/or base_address: 0x and 40 hex digits, all one case or matching its "
    "EIP-55 checksum (422 names the field otherwise); stored checksummed. A changed address is unverified until "
    "its ownership is proved.",
)
async def set_addresses(request: web.Request, body: AddressesIn) -> web.StreamResponse:
    await WalletService(request[UOW]).set_addresses(
        request[AUTH].user.id, ethereum_address=body.ethereum_address, base_address=body.base_address
    )
    return model_response(AddressesOut())


@route(
    "GET",
    f"{PREFIX}/auth/address",
    summary="The signed-in user's EVM addresses and their verification",
    tags=["wallet"],
    auth=True,
    response=WalletOut,
    errors=[403],
    uow="read",
)
async def get_addresses(request: web.Request) -> web.StreamResponse:
    return wallet_out(await WalletService(request[UOW]).get(request[AUTH].user.id))


@route(
    "POST",
    f"{PREFIX}/auth/address/challenge",
    summary="A message to sign, proving ownership of an address",
    tags=["wallet"],
    auth=True,
    body=ChallengeIn,
    response=ChallengeOut,
    errors=[403, 409],
    uow="read",
    description="An EIP-4361 (Sign-In with Ethereum) message with a single-use nonce, valid for a few minutes. Sign it "
    "with personal_sign (EIP-191) and send it to /auth/address/verify. 409 when another account has verified "
    "the address.",
)
async def challenge(request: web.Request, body: ChallengeIn) -> web.StreamResponse:
    issued = await WalletService(request[UOW]).challenge(request[AUTH].user.id, body.chain, body.address)
    return model_response(ChallengeOut(data=ChallengeData.model_validate(issued, from_attributes=True)))


@route(
    "POST",
    f"{PREFIX}/auth/address/verify",
    summary="Prove ownership of an address with a signed message",
    tags=["wallet"],
    auth=True,
    body=VerifyIn,
    response=WalletOut,
    errors=[400, 403, 409],
    uow="write",
    description="400 WALLET_PROOF_<reason> when the proof does not hold (malformed, address_mismatch, expired, "
    "signature_invalid, signature_mismatch, not_issued: never issued to you, altered or already used); 409 when "
    "another account has verified the address. On success the address is the user's verified address on the chain.",
)
async def verify(request: web.Request, body: VerifyIn) -> web.StreamResponse:
    wallet = await WalletService(request[UOW]).verify(
        request[AUTH].user.id, body.chain, body.address, body.message, body.signature
    )
    return wallet_out(wallet)
