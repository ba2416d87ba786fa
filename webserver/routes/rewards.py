"""Cooldowns, the daily claim and the balance over REST; the same services as the bot's /claim and /balance."""

from __future__ import annotations

import sys

from aiohttp import web

from core.rewards.cooldowns import CooldownService
from core.rewards.service import RewardsService
from webserver.api import UOW, Api, model_response, route
from webserver.schemas.rewards import (
    BalanceData,
    BalanceOut,
    BalanceQuery,
    ClaimData,
    ClaimOut,
    CooldownOut,
    CooldownsOut,
    EntryOut,
)
from webserver.security import AUTH

PREFIX = "/api/v1"


def create_api() -> Api:
    return Api.collect(sys.modules[__name__])


@route(
    "GET",
    f"{PREFIX}/auth/cooldowns",
    summary="The signed-in user's active cooldowns",
    tags=["rewards"],
    auth=True,
    response=CooldownsOut,
    errors=[403],
    uow="read",
)
async def cooldowns(request: web.Request) -> web.StreamResponse:
    found = await CooldownService(request[UOW]).active(request[AUTH].user.id)
    return model_response(CooldownsOut(data=[CooldownOut.model_validate(c, from_attributes=True) for c in found]))


@route(
    "POST",
    f"{PREFIX}/claim",
    summary="Claim the daily reward",
    tags=["rewards"],
    auth=True,
    response=ClaimOut,
    errors=[403, 429],
    response_headers=["Retry-After"],
    uow="write",
    description="Once per user per calendar day in their time zone (their profile's time_zone, else the configured "
    "one); the referrer gets a share. A second "
    "claim the same day gets 429 (COOLDOWN_ACTIVE or ALREADY_CLAIMED) with Retry-After in seconds; a disabled or "
    "bot-suspected account gets 403.",
)
async def claim(request: web.Request) -> web.StreamResponse:
    result = await RewardsService(request[UOW]).claim(request[AUTH].user.id)
    return model_response(ClaimOut(data=ClaimData.model_validate(result, from_attributes=True)))


@route(
    "GET",
    f"{PREFIX}/auth/balance",
    summary="Points balance and the latest ledger entries",
    tags=["rewards"],
    auth=True,
    query=BalanceQuery,
    response=BalanceOut,
    errors=[403],
    uow="read",
    description="Entries newest first; pass `next_before` as `before` for the next page.",
)
async def balance(request: web.Request, query: BalanceQuery) -> web.StreamResponse:
    found = await RewardsService(request[UOW]).balance(request[AUTH].user.id, limit=query.limit, before=query.before)
    return model_response(
        BalanceOut(
            data=BalanceData(
                balance=found.balance,
                entries=[EntryOut.model_validate(entry, from_attributes=True) for entry in found.entries],
                next_before=found.next_before,
            )
        )
    )
