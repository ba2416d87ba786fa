"""A user's EVM addresses and their ownership proofs.

Anyone may record any address (seed 003's POST /auth/address); a recorded address becomes verified only through
an ownership proof (`core/wallet/proof.py`): the server issues a Sign-In with Ethereum message to the user, the
wallet signs it, the server recovers the signer. A verified address belongs to one user: a second user's proof of
it is refused (409), and the partial unique indexes of the users table decide between two concurrent proofs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.exc import IntegrityError

from core.container import UnitOfWork
from core.errors import Conflict, NotFound
from core.users.service import UserService
from core.wallet.evm import InvalidAddress, checksum_address
from core.wallet.proof import Challenge, KeyValueNonceStore, OwnershipProof, ProofConfig
from storage.models.user import User
from storage.repositories.users import UserRepository
from storage.repositories.wallet import WalletRepository

ADDRESS_TAKEN = "address_already_verified"


class Chain(StrEnum):
    ETHEREUM = "ethereum"
    BASE = "base"

    @property
    def chain_id(self) -> int:
        return _CHAIN_IDS[self]


_CHAIN_IDS = {Chain.ETHEREUM: 1, Chain.BASE: 8453}


@dataclass(frozen=True, slots=True)
class AddressDTO:
    chain: str
    address: str | None
    verified: bool
    verified_at: datetime | None


@dataclass(frozen=True, slots=True)
class WalletDTO:
    ethereum: AddressDTO
    base: AddressDTO


def field_address(field: str, value: str) -> str:
    """``value`` checksummed, or InvalidAddress whose message names ``field`` (422)."""
    try:
        return checksum_address(value)
    except InvalidAddress as exc:
        raise InvalidAddress(exc.problem, f"{field}: {exc.message}") from None


def wallet_of(user: User) -> WalletDTO:
    return WalletDTO(
        ethereum=AddressDTO(
            chain=Chain.ETHEREUM.value,
            address=user.ethereum_address,
            verified=user.ethereum_verified_at is not None,
            verified_at=user.ethereum_verified_at,
        ),
        base=AddressDTO(
            chain=Chain.BASE.value,
            address=user.base_address,
            verified=user.base_verified_at is not None,
            verified_at=user.base_verified_at,
        ),
    )


class WalletService:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self._session = uow.session
        self._users = UserRepository(uow.session)
        self._repo = WalletRepository(uow.session)
        self._proof = OwnershipProof(uow.config(ProofConfig), KeyValueNonceStore(uow.container.kv), uow.clock)

    async def _load(self, user_id: int) -> User:
        user = await self._users.get(user_id)
        if user is None:
            raise NotFound("user_not_found", "User not found")
        return user

    async def get(self, user_id: int) -> WalletDTO:
        return wallet_of(await self._load(user_id))

    async def set_addresses(self, user_id: int, *, ethereum_address: str | None, base_address: str | None) -> WalletDTO:
        """Record the given addresses (checksummed); a changed address loses its verification."""
        wanted = {
            Chain.ETHEREUM: None if ethereum_address is None else field_address("ethereum_address", ethereum_address),
            Chain.BASE: None if base_address is None else field_address("base_address", base_address),
        }
        user = await self._load(user_id)
        changed = False
        for chain, address in wanted.items():
            if address is not None and getattr(user, f"{chain}_address") != address:
                setattr(user, f"{chain}_address", address)
                setattr(user, f"{chain}_verified_at", None)
                changed = True
        if changed:
            await UserService(self._uow).touch(user)
        return wallet_of(user)

    async def challenge(self, user_id: int, chain: Chain, address: str) -> Challenge:
        """A message for the wallet holding ``address`` to sign (EIP-4361 wording, single use, expiring)."""
        checksummed = field_address("address", address)
        await self._load(user_id)
        await self._refuse_taken(user_id, checksummed)
        return await self._proof.challenge(_subject(user_id), checksummed, chain_id=chain.chain_id)

    async def verify(self, user_id: int, chain: Chain, address: str, message: str, signature: str) -> WalletDTO:
        """Check the signed message; the address becomes the user's verified address on ``chain``."""
        checksummed = field_address("address", address)
        user = await self._load(user_id)
        # Before the nonce is consumed: a refused proof of someone else's address leaves it usable.
        await self._refuse_taken(user_id, checksummed)
        proved = await self._proof.verify(_subject(user_id), checksummed, message, signature)
        setattr(user, f"{chain}_address", proved)
        setattr(user, f"{chain}_verified_at", self._uow.clock.now())
        try:
            async with self._session.begin_nested():
                await UserService(self._uow).touch(user)
        except IntegrityError:
            # Another user's proof of this address committed first.
            raise _taken() from None
        return wallet_of(user)

    async def _refuse_taken(self, user_id: int, address: str) -> None:
        if await self._repo.verified_owner(address, except_user=user_id) is not None:
            raise _taken()


def _subject(user_id: int) -> str:
    return f"user:{user_id}"


def _taken() -> Conflict:
    return Conflict(ADDRESS_TAKEN, "This address is already verified by another account")
