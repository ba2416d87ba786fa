"""Ownership proofs with real keys made here, on the in-process store and on a real redis-server."""

from __future__ import annotations

import asyncio
import hashlib
import random
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from core.clock import ManualClock
from core.errors import ValidationFailed
from core.wallet.evm import InvalidAddress
from core.wallet.proof import (
    MAX_MESSAGE_CHARS,
    Challenge,
    KeyValueNonceStore,
    OwnershipProof,
    ProofConfig,
    ProofRefused,
    SiweMessage,
)
from storage.kv import KeyValueStore, MemoryStore

START = datetime(2030, 5, 17, 12, 30, 45, 123456, tzinfo=UTC)
CONFIG = ProofConfig(domain="unibot.example", uri="https://unibot.example/wallet", ttl_seconds=600)


def sign(account: LocalAccount, message: str) -> str:
    return "0x" + bytes(account.sign_message(encode_defunct(text=message)).signature).hex()


class ReadersMeet:
    """The real store, except that a read returns only once ``parties`` reads are under way.

    So every concurrent consumer has read the nonce before any of them deletes it: the interleaving that a
    read-then-delete consumption must survive, made certain instead of left to the scheduler.
    """

    def __init__(self, inner: KeyValueStore, parties: int) -> None:
        self.inner = inner
        self.barrier = asyncio.Barrier(parties)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def get(self, key: str) -> bytes | None:
        value = await self.inner.get(key)
        await self.barrier.wait()
        return value


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def proof(kv: KeyValueStore, clock: ManualClock) -> OwnershipProof:
    return OwnershipProof(CONFIG, KeyValueNonceStore(kv), clock)


@pytest.fixture
def owner() -> LocalAccount:
    account: LocalAccount = Account.create()
    return account


async def refusal(proof: OwnershipProof, subject: str, address: str, message: str, signature: str) -> str:
    with pytest.raises(ProofRefused) as caught:
        await proof.verify(subject, address, message, signature)
    assert caught.value.code == f"wallet_proof_{caught.value.reason}"
    return caught.value.reason


async def test_message_is_worded_as_sign_in_with_ethereum(proof: OwnershipProof, owner: LocalAccount) -> None:
    challenge = await proof.challenge("user:1", owner.address.lower(), chain_id=8453)
    nonce = challenge.message.split("Nonce: ")[1].split("\n")[0]
    assert len(nonce) == 32
    assert challenge.message == (
        "unibot.example wants you to sign in with your Ethereum account:\n"
        f"{owner.address}\n"
        "\n"
        "Link this address to your account.\n"
        "\n"
        "URI: https://unibot.example/wallet\n"
        "Version: 1\n"
        "Chain ID: 8453\n"
        f"Nonce: {nonce}\n"
        "Issued At: 2030-05-17T12:30:45Z\n"
        "Expiration Time: 2030-05-17T12:40:45Z"
    )
    assert challenge.address == owner.address
    assert challenge.expires_at == datetime(2030, 5, 17, 12, 40, 45, tzinfo=UTC)
    parsed = SiweMessage.parse(challenge.message)
    assert (parsed.domain, parsed.address, parsed.chain_id, parsed.nonce) == (
        "unibot.example",
        owner.address,
        8453,
        nonce,
    )
    assert parsed.text() == challenge.message


async def test_nonces_differ_between_challenges(proof: OwnershipProof, owner: LocalAccount) -> None:
    messages = {(await proof.challenge("user:1", owner.address, chain_id=1)).message for _ in range(20)}
    assert len(messages) == 20


async def test_signed_challenge_proves_the_address(proof: OwnershipProof, owner: LocalAccount) -> None:
    challenge = await proof.challenge("user:1", owner.address, chain_id=1)
    # The claim may be spelled in lower case; the proven address comes back checksummed.
    proven = await proof.verify("user:1", owner.address.lower(), challenge.message, sign(owner, challenge.message))
    assert proven == owner.address


async def test_signature_of_another_key_is_refused_and_the_owner_can_still_prove(
    proof: OwnershipProof, owner: LocalAccount
) -> None:
    challenge = await proof.challenge("user:1", owner.address, chain_id=1)
    intruder = Account.create()
    reason = await refusal(proof, "user:1", owner.address, challenge.message, sign(intruder, challenge.message))
    assert reason == "signature_mismatch"
    assert await proof.verify("user:1", owner.address, challenge.message, sign(owner, challenge.message))


async def test_a_used_nonce_is_refused(proof: OwnershipProof, owner: LocalAccount) -> None:
    challenge = await proof.challenge("user:1", owner.address, chain_id=1)
    signature = sign(owner, challenge.message)
    await proof.verify("user:1", owner.address, challenge.message, signature)
    assert await refusal(proof, "user:1", owner.address, challenge.message, signature) == "not_issued"


async def test_concurrent_submissions_of_one_proof_succeed_once(
    kv: KeyValueStore, clock: ManualClock, owner: LocalAccount
) -> None:
    proof = OwnershipProof(CONFIG, KeyValueNonceStore(cast(KeyValueStore, ReadersMeet(kv, 20))), clock)
    challenge = await proof.challenge("user:1", owner.address, chain_id=1)
    signature = sign(owner, challenge.message)
    results = await asyncio.gather(
        *(proof.verify("user:1", owner.address, challenge.message, signature) for _ in range(20)),
        return_exceptions=True,
    )
    assert results.count(owner.address) == 1
    refused = [result for result in results if isinstance(result, ProofRefused)]
    assert len(refused) == 19
    assert {result.reason for result in refused} == {"not_issued"}


async def test_expiry_is_judged_by_the_injected_clock(
    proof: OwnershipProof, owner: LocalAccount, clock: ManualClock
) -> None:
    early = await proof.challenge("user:1", owner.address, chain_id=1)
    clock.advance(1)
    late = await proof.challenge("user:1", owner.address, chain_id=1)
    # The first message was issued at 12:30:45 (the clock's fraction of a second dropped): it dies at 12:40:45.
    clock.set(datetime(2030, 5, 17, 12, 40, 45, tzinfo=UTC))
    assert await refusal(proof, "user:1", owner.address, early.message, sign(owner, early.message)) == "expired"
    assert await proof.verify("user:1", owner.address, late.message, sign(owner, late.message)) == owner.address
    clock.advance(3600)
    expired = await proof.challenge("user:1", owner.address, chain_id=1)
    clock.advance(CONFIG.ttl_seconds)
    assert await refusal(proof, "user:1", owner.address, expired.message, sign(owner, expired.message)) == "expired"


async def test_a_message_issued_to_one_person_does_not_prove_for_another(
    proof: OwnershipProof, owner: LocalAccount
) -> None:
    challenge = await proof.challenge("user:1", owner.address, chain_id=1)
    signature = sign(owner, challenge.message)
    assert await refusal(proof, "user:2", owner.address, challenge.message, signature) == "not_issued"
    assert await proof.verify("user:1", owner.address, challenge.message, signature) == owner.address


def replace_line(message: str, prefix: str, value: str) -> str:
    lines = message.split("\n")
    index = next(i for i, line in enumerate(lines) if line.startswith(prefix))
    lines[index] = prefix + value
    return "\n".join(lines)


async def test_tampered_messages_are_refused(proof: OwnershipProof, owner: LocalAccount) -> None:
    challenge = await proof.challenge("user:1", owner.address, chain_id=1)
    original_signature = sign(owner, challenge.message)
    later = replace_line(challenge.message, "Expiration Time: ", "2031-01-01T00:00:00Z")
    # Changed after signing: the signature no longer recovers to the owner.
    assert await refusal(proof, "user:1", owner.address, later, original_signature) == "signature_mismatch"
    # Changed and signed again by the owner's own wallet: validly signed, but not what was issued.
    assert await refusal(proof, "user:1", owner.address, later, sign(owner, later)) == "not_issued"
    forged_nonce = replace_line(challenge.message, "Nonce: ", "a" * 32)
    assert await refusal(proof, "user:1", owner.address, forged_nonce, sign(owner, forged_nonce)) == "not_issued"
    other_chain = replace_line(challenge.message, "Chain ID: ", "8453")
    assert await refusal(proof, "user:1", owner.address, other_chain, sign(owner, other_chain)) == "not_issued"
    other_site = challenge.message.replace("unibot.example", "phish.example")
    assert await refusal(proof, "user:1", owner.address, other_site, sign(owner, other_site)) == "not_issued"
    # None of it used up the genuine message.
    assert await proof.verify("user:1", owner.address, challenge.message, original_signature) == owner.address


async def test_claiming_another_address_than_the_message_names_is_refused(
    proof: OwnershipProof, owner: LocalAccount
) -> None:
    challenge = await proof.challenge("user:1", owner.address, chain_id=1)
    other = Account.create()
    signature = sign(owner, challenge.message)
    assert await refusal(proof, "user:1", other.address, challenge.message, signature) == "address_mismatch"
    with pytest.raises(InvalidAddress):
        await proof.verify("user:1", "0x1234", challenge.message, signature)


async def test_malformed_signatures_are_refused_without_leaking_exceptions(
    proof: OwnershipProof, owner: LocalAccount
) -> None:
    challenge = await proof.challenge("user:1", owner.address, chain_id=1)
    good = sign(owner, challenge.message)
    r_s, v = good[:130], good[130:]
    malformed = [
        "",
        "0x",
        "0x1234",
        good[2:],
        good[:-2],
        good + "00",
        "0x" + "00" * 65,
        "0x" + "ff" * 65,
        "0x" + "zz" * 65,
        " " + good,
        r_s + "1d",
        # Recovery values of EIP-155 transactions, which eth-account would otherwise read as 0 or 1.
        r_s + "25",
        r_s + "26",
        r_s + "ff",
        "0x" + "00" * 32 + good[66:],
        good.replace("0x", "0X"),
    ]
    for signature in malformed:
        reason = await refusal(proof, "user:1", owner.address, challenge.message, signature)
        assert reason in {"signature_invalid", "signature_mismatch"}, (signature, reason)
    # Every value of the recovery byte on another key's signature, and random bytes: refused, never raised.
    foreign = sign(Account.create(), challenge.message)
    for byte in range(256):
        signature = foreign[:130] + f"{byte:02x}"
        assert await refusal(proof, "user:1", owner.address, challenge.message, signature) in {
            "signature_invalid",
            "signature_mismatch",
        }
    generator = random.Random(4361)
    for _ in range(200):
        signature = "0x" + generator.randbytes(65).hex()
        assert await refusal(proof, "user:1", owner.address, challenge.message, signature) in {
            "signature_invalid",
            "signature_mismatch",
        }
    assert v in {"1b", "1c"}
    assert await proof.verify("user:1", owner.address, challenge.message, good.upper().replace("0X", "0x"))
    # Some hardware wallets write the recovery value as 0 or 1 instead of 27 or 28.
    again = await proof.challenge("user:1", owner.address, chain_id=1)
    signed = sign(owner, again.message)
    zero_based = signed[:130] + f"{int(signed[130:], 16) - 27:02x}"
    assert await proof.verify("user:1", owner.address, again.message, zero_based) == owner.address


async def test_malformed_messages_are_refused(proof: OwnershipProof, owner: LocalAccount) -> None:
    challenge = await proof.challenge("user:1", owner.address, chain_id=1)
    lower_address = challenge.message.replace(owner.address, owner.address.lower())
    mangled = [
        "",
        "hello",
        challenge.message.replace("\n", "\r\n"),
        challenge.message + "\n",
        challenge.message + "\nResources:\n- https://unibot.example/",
        challenge.message.replace("Version: 1", "Version: 2"),
        challenge.message.replace("Issued At: 2030-05-17T12:30:45Z", "Issued At: 2030-05-17T12:30:45.000Z"),
        challenge.message.replace("2030-05-17T12:40:45Z", "2030-13-17T12:40:45Z"),
        replace_line(challenge.message, "Nonce: ", "short"),
        challenge.message.replace(owner.address, "0x" + "1" * 39),
        challenge.message + " " * MAX_MESSAGE_CHARS,
    ]
    for message in mangled:
        assert await refusal(proof, "user:1", owner.address, message, sign(owner, message)) == "malformed", message
    # An address spelled in lower case inside the message is not the text that was issued either.
    assert await refusal(proof, "user:1", owner.address, lower_address, sign(owner, lower_address)) == "malformed"


async def test_challenge_input_is_checked(proof: OwnershipProof, owner: LocalAccount) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await proof.challenge("user:1", owner.address, chain_id=56)
    assert caught.value.code == "wallet_chain_unsupported"
    with pytest.raises(InvalidAddress) as address_error:
        await proof.challenge("user:1", owner.address[:-1], chain_id=1)
    assert address_error.value.problem == "length"


def test_config_refuses_what_would_break_the_message_layout() -> None:
    with pytest.raises(ValueError, match="domain"):
        ProofConfig(domain="unibot.example wants", uri="https://unibot.example/")
    with pytest.raises(ValueError, match="statement"):
        ProofConfig(domain="unibot.example", uri="https://unibot.example/", statement="two\nlines")
    with pytest.raises(ValueError, match="uri"):
        ProofConfig(domain="unibot.example", uri="https://unibot.example/a b")
    with pytest.raises(ValueError, match="ttl"):
        ProofConfig(domain="unibot.example", uri="https://unibot.example/", ttl_seconds=0)
    with pytest.raises(ValueError, match="chain"):
        ProofConfig(domain="unibot.example", uri="https://unibot.example/", chain_ids=frozenset({0}))


# --- the nonce store on its own ---------------------------------------------------------------------------------


async def test_nonce_store_issues_once_and_consumes_once(kv: KeyValueStore) -> None:
    store = KeyValueNonceStore(kv)
    assert await store.issue("n0nce0001", b"print-a", ttl=60)
    assert not await store.issue("n0nce0001", b"print-b", ttl=60)
    # A wrong fingerprint neither succeeds nor burns the nonce.
    assert not await store.consume("n0nce0001", b"print-b")
    assert not await store.consume("unknown01", b"print-a")
    assert await store.consume("n0nce0001", b"print-a")
    assert not await store.consume("n0nce0001", b"print-a")


async def test_nonce_store_consumption_is_atomic(kv: KeyValueStore) -> None:
    store = KeyValueNonceStore(cast(KeyValueStore, ReadersMeet(kv, 20)))
    assert await store.issue("n0nce0002", b"print", ttl=60)
    results = await asyncio.gather(*(store.consume("n0nce0002", b"print") for _ in range(20)))
    assert results.count(True) == 1


async def test_nonce_store_forgets_after_its_ttl(kv: KeyValueStore) -> None:
    store = KeyValueNonceStore(kv)
    assert await store.issue("n0nce0003", b"print", ttl=0.05)
    await asyncio.sleep(0.1)
    assert not await store.consume("n0nce0003", b"print")


async def test_nonce_store_keys_do_not_reveal_nonces(kv: KeyValueStore) -> None:
    store = KeyValueNonceStore(kv)
    await store.issue("n0nce0004", b"print", ttl=60)
    assert await kv.get("wallet:nonce:n0nce0004") is None
    assert await kv.get("wallet:nonce:" + hashlib.sha256(b"n0nce0004").hexdigest()) == b"print"


async def test_expiry_on_a_memory_store_sharing_the_manual_clock(owner: LocalAccount) -> None:
    clock = ManualClock(START)
    proof = OwnershipProof(CONFIG, KeyValueNonceStore(MemoryStore(clock=clock.time)), clock)
    challenge: Challenge = await proof.challenge("user:1", owner.address, chain_id=1)
    clock.advance(timedelta(hours=1).total_seconds())
    assert await refusal(proof, "user:1", owner.address, challenge.message, sign(owner, challenge.message)) == "expired"
