"""Cooldowns, the daily claim and the balance over real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

from core.auth.service import AuthService
from core.clock import ManualClock
from core.rewards.service import RewardsService
from storage.models import User
from tests.core.rewards.test_rewards_service import assert_ledger_consistent
from tests.helpers.app import Client
from tests.webserver.conftest import MakeClient
from tests.webserver.test_auth_routes import PASSWORD, bearer, register
from webserver.keys import CONTAINER

API = "/api/v1"


async def signed_in(client: Client, email: str) -> tuple[int, dict[str, str]]:
    body = await register(client, email)
    return int(body["user_id"]), bearer(body["access_token"])


async def test_claim_cooldown_and_balance(client: Client, clock: ManualClock) -> None:
    _, auth = await signed_in(client, "ann@example.org")
    empty = await client.get(f"{API}/auth/cooldowns", headers=auth)
    assert await empty.json() == {"result": "success", "data": []}

    paid = await client.post(f"{API}/claim", headers=auth)
    assert paid.status == 200, await paid.text()
    data = (await paid.json())["data"]
    assert (data["amount"], data["referral_amount"], data["balance"]) == (100, 0, 100)
    assert data["next_claim_at"] == "2030-01-02T00:00:00Z"

    # Within the access token's 15 minutes.
    clock.advance(600)
    again = await client.post(f"{API}/claim", headers=auth)
    assert again.status == 429
    refused = await again.json()
    assert refused["error_code"] == "COOLDOWN_ACTIVE"
    assert set(refused) == {"detail", "error_code", "timestamp"}
    assert again.headers["Retry-After"] == str(86400 - 600)

    listed = await (await client.get(f"{API}/auth/cooldowns/", headers=auth)).json()
    assert listed == {
        "result": "success",
        "data": [{"command": "claim", "cooldown_timestamp": "2030-01-02T00:00:00Z", "remaining_seconds": 86400 - 600}],
    }
    shown = await (await client.get(f"{API}/auth/balance", headers=auth)).json()
    assert shown["data"]["balance"] == 100
    [entry] = shown["data"]["entries"]
    assert (entry["amount"], entry["kind"]) == (100, "daily_claim")
    assert shown["data"]["next_before"] is None


async def test_referrer_gets_the_share(client: Client) -> None:
    referrer, referrer_auth = await signed_in(client, "ref@example.org")
    user, auth = await signed_in(client, "new@example.org")
    async with client.app[CONTAINER].unit_of_work(write=True) as uow:
        row = await uow.session.get(User, user)
        assert row is not None
        row.referred_by_id = referrer
    paid = await (await client.post(f"{API}/claim", headers=auth)).json()
    assert paid["data"]["referral_amount"] == 10
    shown = await (await client.get(f"{API}/auth/balance", headers=referrer_auth)).json()
    assert shown["data"]["balance"] == 10


async def test_twenty_simultaneous_claims_over_http_pay_once(client: Client) -> None:
    _, auth = await signed_in(client, "race@example.org")
    responses = await asyncio.gather(*(client.post(f"{API}/claim", headers=auth) for _ in range(20)))
    assert sorted(r.status for r in responses) == [200] + [429] * 19
    assert all(r.headers.get("Retry-After") for r in responses if r.status == 429)
    shown = await (await client.get(f"{API}/auth/balance", headers=auth)).json()
    assert shown["data"]["balance"] == 100
    await assert_ledger_consistent(client.app[CONTAINER])


async def test_balance_pages_and_bad_queries(client: Client, clock: ManualClock) -> None:
    _, auth = await signed_in(client, "pages@example.org")
    container = client.app[CONTAINER]
    user = (await (await client.get(f"{API}/users/me", headers=auth)).json())["id"]
    for _ in range(3):
        async with container.unit_of_work(write=True) as uow:
            await RewardsService(uow).claim(user)
        clock.advance(86400)
    login = await client.post(f"{API}/auth/login", json={"email": "pages@example.org", "password": PASSWORD})
    auth = bearer((await login.json())["access_token"])
    first = (await (await client.get(f"{API}/auth/balance?limit=2", headers=auth)).json())["data"]
    assert len(first["entries"]) == 2
    second = (
        await (await client.get(f"{API}/auth/balance?limit=2&before={first['next_before']}", headers=auth)).json()
    )["data"]
    assert len(second["entries"]) == 1
    assert second["next_before"] is None
    for query in ("limit=0", "limit=abc", "before=-1", "limit=1&limit=2", "before=99999999999999999999"):
        response = await client.get(f"{API}/auth/balance?{query}", headers=auth)
        assert response.status == 422, query
        body: dict[str, Any] = await response.json()
        assert body["error_code"] == "VALIDATION_ERROR"


async def test_guards_without_a_user_or_with_a_disabled_one(client: Client) -> None:
    for method, path in (("GET", "/auth/cooldowns"), ("POST", "/claim"), ("GET", "/auth/balance")):
        response = await client.request(method, f"{API}{path}")
        assert response.status == 401, path
    user, auth = await signed_in(client, "off@example.org")
    async with client.app[CONTAINER].unit_of_work(write=True) as uow:
        await AuthService(uow).set_active(user, False)
    refused = await client.post(f"{API}/claim", headers=auth)
    # Disabling revokes every session at once: the token is dead before the claim rule is reached.
    assert refused.status == 401


async def test_openapi_documents_the_statuses(client: Client) -> None:
    spec = await (await client.get("/openapi.json")).json()
    claim = spec["paths"]["/api/v1/claim"]["post"]["responses"]
    assert {"200", "401", "403", "429"} <= set(claim)
    assert {"200", "401", "422"} <= set(spec["paths"]["/api/v1/auth/balance"]["get"]["responses"])


async def test_the_day_ends_at_midnight_in_the_configured_zone(make_client: MakeClient, clock: ManualClock) -> None:
    client = await make_client(rewards={"time_zone": "America/New_York"}, ratelimit={"user_limit": 1000})
    _, auth = await signed_in(client, "ny@example.org")
    # 2030-01-01 00:00 UTC is 19:00 on December 31 in New York: the next claim opens at 05:00 UTC.
    paid = await (await client.post(f"{API}/claim", headers=auth)).json()
    assert paid["data"]["claimed_on"] == "2029-12-31"
    assert paid["data"]["next_claim_at"] == "2030-01-01T05:00:00Z"
