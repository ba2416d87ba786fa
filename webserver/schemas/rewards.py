"""Bodies of the rewards routes: cooldowns (seed 003's shape), the daily claim and the balance."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from webserver.schemas.inputs import InputModel


class CooldownOut(BaseModel):
    command: str
    # When the cooldown ends (UTC).
    cooldown_timestamp: datetime
    remaining_seconds: int


class CooldownsOut(BaseModel):
    result: Literal["success"] = "success"
    data: list[CooldownOut]


class ClaimData(BaseModel):
    amount: int
    referral_amount: int
    balance: int
    claimed_on: date
    next_claim_at: datetime


class ClaimOut(BaseModel):
    result: Literal["success"] = "success"
    data: ClaimData


class BalanceQuery(InputModel):
    # Entries per page; the server caps it at its configured maximum.
    limit: int | None = Field(default=None, ge=1, le=1000)
    # The `next_before` of the previous page.
    before: int | None = Field(default=None, ge=1, le=2**63 - 1)


class EntryOut(BaseModel):
    id: int
    amount: int
    kind: str
    created_at: datetime


class BalanceData(BaseModel):
    balance: int
    entries: list[EntryOut]
    next_before: int | None


class BalanceOut(BaseModel):
    result: Literal["success"] = "success"
    data: BalanceData
