"""Bodies of the wallet routes: seed 003's POST /auth/address and the ownership proof."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from core.wallet.evm import InvalidAddress, checksum_address
from core.wallet.proof import MAX_MESSAGE_CHARS
from core.wallet.service import Chain
from webserver.schemas.inputs import InputModel


def _checksummed(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return checksum_address(value)
    except InvalidAddress as exc:
        # A ValueError, so that pydantic reports it under the field's name (422).
        raise ValueError(exc.message) from None


class AddressesIn(InputModel):
    ethereum_address: str | None = Field(default=None, max_length=64)
    base_address: str | None = Field(default=None, max_length=64)

    _check = field_validator("ethereum_address", "base_address")(_checksummed)

    @model_validator(mode="after")
    def _one_at_least(self) -> AddressesIn:
        if self.ethereum_address is None and self.base_address is None:
            raise ValueError("give ethereum_address, base_address or both")
        return self


class AddressesOut(BaseModel):
    result: Literal["success"] = "success"
    message: str = "Addresses added successfully"


class ChallengeIn(InputModel):
    chain: Chain
    address: str = Field(max_length=64)

    _check = field_validator("address")(_checksummed)


class ChallengeData(BaseModel):
    message: str
    address: str
    chain_id: int
    expires_at: datetime


class ChallengeOut(BaseModel):
    result: Literal["success"] = "success"
    data: ChallengeData


class VerifyIn(InputModel):
    chain: Chain
    address: str = Field(max_length=64)
    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    # 0x and 65 bytes in hex; the proof checks the exact form.
    signature: str = Field(min_length=1, max_length=200)

    _check = field_validator("address")(_checksummed)


class AddressOut(BaseModel):
    address: str | None
    verified: bool
    verified_at: datetime | None


class WalletData(BaseModel):
    ethereum: AddressOut
    base: AddressOut


class WalletOut(BaseModel):
    result: Literal["success"] = "success"
    data: WalletData
