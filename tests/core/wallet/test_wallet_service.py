"""The wallet service on a real database: verification is per user, and one address is verified by one user."""

from __future__ import annotations

import asyncio

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from core.container import Container
from core.errors import Conflict
from core.wallet.evm import InvalidAddress
from core.wallet.proof import ProofRefused
from core.wallet.service import Chain, WalletDTO, WalletService
from tests.core.rewards.test_rewards_service import make_user


def sign(account: LocalAccount, message: str) -> str:
    return "0x" + bytes(account.sign_message(encode_defunct(text=message)).signature).hex()


async def signed_message(container: Container, user: int, key: LocalAccount, chain: Chain) -> tuple[str, str]:
    async with container.unit_of_work(write=False) as uow:
        issued = await WalletService(uow).challenge(user, chain, key.address)
    return issued.message, sign(key, issued.message)


async def verify(
    container: Container, user: int, key: LocalAccount, chain: Chain, signed: tuple[str, str]
) -> WalletDTO:
    async with container.unit_of_work(write=True) as uow:
        return await WalletService(uow).verify(user, chain, key.address, *signed)


async def test_two_users_proving_one_address_at_once_one_wins(container: Container) -> None:
    key: LocalAccount = Account.create()
    ann, bob = await make_user(container, 11), await make_user(container, 12)
    signed_ann = await signed_message(container, ann, key, Chain.ETHEREUM)
    signed_bob = await signed_message(container, bob, key, Chain.ETHEREUM)
    outcomes = await asyncio.gather(
        verify(container, ann, key, Chain.ETHEREUM, signed_ann),
        verify(container, bob, key, Chain.ETHEREUM, signed_bob),
        return_exceptions=True,
    )
    winners = [outcome for outcome in outcomes if isinstance(outcome, WalletDTO)]
    losers = [outcome for outcome in outcomes if isinstance(outcome, Conflict)]
    assert (len(winners), len(losers)) == (1, 1), outcomes
    assert winners[0].ethereum.verified


async def test_a_proof_for_another_account_is_not_accepted(container: Container) -> None:
    key: LocalAccount = Account.create()
    ann, bob = await make_user(container, 21), await make_user(container, 22)
    # Bob signs the message issued to Ann: it proves nothing for Bob's account.
    signed_ann = await signed_message(container, ann, key, Chain.BASE)
    with pytest.raises(ProofRefused) as refused:
        await verify(container, bob, key, Chain.BASE, signed_ann)
    assert refused.value.code == "wallet_proof_not_issued"


async def test_changing_an_address_drops_its_verification(container: Container) -> None:
    key: LocalAccount = Account.create()
    ann = await make_user(container, 31)
    await verify(container, ann, key, Chain.BASE, await signed_message(container, ann, key, Chain.BASE))
    async with container.unit_of_work(write=True) as uow:
        same = await WalletService(uow).set_addresses(ann, ethereum_address=None, base_address=key.address.lower())
    assert same.base.verified
    other: LocalAccount = Account.create()
    async with container.unit_of_work(write=True) as uow:
        changed = await WalletService(uow).set_addresses(ann, ethereum_address=None, base_address=other.address)
    assert changed.base.address == other.address
    assert not changed.base.verified


async def test_the_service_names_the_field_of_a_bad_address(container: Container) -> None:
    ann = await make_user(container, 41)
    async with container.unit_of_work(write=True) as uow:
        with pytest.raises(InvalidAddress) as refused:
            await WalletService(uow).set_addresses(ann, ethereum_address=None, base_address="0x12")
    assert refused.value.message.startswith("base_address:")
    assert refused.value.status_hint == 422
