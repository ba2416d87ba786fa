"""Access levels and the admin routes over real HTTP, on SQLite with the in-process store and on PostgreSQL with
Redis: the guard, escalation attempts, revocation on every replica, filters and the audit log."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from aiohttp import web
from pytest_aiohttp import AiohttpClient
from sqlalchemy import update

from core.access import jobs as access_jobs
from core.auth import jobs as auth_jobs
from core.clock import ManualClock
from storage.kv import KeyValueStore
from storage.models import User
from tests.helpers.app import Client, create_test_app, make_container
from tests.helpers.app import test_settings as build_settings
from tests.webserver.conftest import MakeClient
from webserver.api import Api, route
from webserver.keys import CONTAINER

API = "/api/v1"
ADMIN = f"{API}/auth/admin"
PASSWORD = "correct horse battery"
OWNER = "owner@example.org"
LIMITS = {"auth_limit": 1000, "general_limit": 1000, "user_limit": 1000}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def register(client: Client, email: str, **extra: Any) -> tuple[int, str]:
    response = await client.post(f"{API}/auth/register", json={"email": email, "password": PASSWORD, **extra})
    assert response.status == 200, await response.text()
    body = await response.json()
    return int(body["user_id"]), str(body["access_token"])


async def login(client: Client, email: str) -> str:
    response = await client.post(f"{API}/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status == 200, await response.text()
    return str((await response.json())["access_token"])


async def admin_client(make_client: MakeClient) -> tuple[Client, int, str]:
    """A server whose settings name OWNER as the first admin; OWNER registered and made admin as at start-up."""
    client = await make_client(ratelimit=LIMITS, access={"initial_admin_emails": [OWNER]})
    owner_id, _ = await register(client, OWNER)
    assert await access_jobs.apply_initial_admins(client.app[CONTAINER]) == 1
    # Becoming an admin raised nothing that signs the owner out (levels were added, not removed).
    return client, owner_id, await login(client, OWNER)


async def patch(client: Client, token: str, user_id: int, **fields: Any) -> Any:
    return await client.patch(f"{ADMIN}/users/{user_id}", json=fields, headers=bearer(token))


async def test_profile_shows_levels_and_dates(make_client: MakeClient) -> None:
    client = await make_client(ratelimit=LIMITS)
    _, token = await register(client, "ann@example.org")
    body = await (await client.get(f"{API}/auth/profile", headers=bearer(token))).json()
    for flag in ("is_staff", "has_beta_access", "has_alpha_access", "is_bot_suspected"):
        assert body[flag] is False
    assert body["date_joined"].endswith("Z")
    assert body["last_login"].endswith("Z")


async def test_admin_routes_refuse_a_user_token_naming_the_level(make_client: MakeClient) -> None:
    client, owner_id, _ = await admin_client(make_client)
    _, token = await register(client, "ann@example.org")
    for method, path in (
        ("GET", f"{ADMIN}/users"),
        ("GET", f"{ADMIN}/users/{owner_id}"),
        ("PATCH", f"{ADMIN}/users/{owner_id}"),
        ("GET", f"{ADMIN}/new-users"),
        ("GET", f"{ADMIN}/audit"),
    ):
        response = await client.request(method, path, headers=bearer(token), json={"is_active": False})
        assert response.status == 403, (method, path)
        body = await response.json()
        assert body["detail"] == "User does not have access to ADMIN"
        assert body["error_code"] == "ACCESS_STAFF"
    anonymous = await client.get(f"{ADMIN}/users")
    assert anonymous.status == 401


async def test_admin_lists_filters_searches_and_caps_pages(make_client: MakeClient) -> None:
    client, owner_id, token = await admin_client(make_client)
    ids = [(await register(client, f"user{n}@example.org", first_name=f"Zed{n}"))[0] for n in range(3)]
    await patch(client, token, ids[0], has_beta_access=True)
    await patch(client, token, ids[1], is_bot_suspected=True)

    async def listing(**query: Any) -> dict[str, Any]:
        response = await client.get(f"{ADMIN}/users", params=query, headers=bearer(token))
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
        return body

    assert [u["id"] for u in (await listing(level="beta"))["users"]] == [ids[0]]
    assert [u["id"] for u in (await listing(level="staff"))["users"]] == [owner_id]
    assert [u["id"] for u in (await listing(is_bot_suspected="true"))["users"]] == [ids[1]]
    assert [u["id"] for u in (await listing(search="USER2@example.org"))["users"]] == [ids[2]]
    assert [u["id"] for u in (await listing(search="zed", sort="id"))["users"]] == ids
    assert [u["id"] for u in (await listing(search=str(ids[1])))["users"]] == [ids[1]]
    assert (await listing(search="%"))["users"] == []
    first = await listing(page_size=2, sort="id")
    assert [u["id"] for u in first["users"]] == [owner_id, ids[0]]
    assert first["has_more"] is True
    second = await listing(page_size=2, page=2, sort="id")
    assert [u["id"] for u in second["users"]] == ids[1:]
    assert second["has_more"] is False
    for bad in ({"page_size": 101}, {"page_size": 0}, {"level": "god"}, {"sort": "password_hash"}, {"page": "x"}):
        response = await client.get(f"{ADMIN}/users", params=bad, headers=bearer(token))
        assert response.status == 422, bad
        assert "error_code" in await response.json()
    missing = await client.get(f"{ADMIN}/users/999999", headers=bearer(token))
    assert missing.status == 404
    huge = await client.get(f"{ADMIN}/users/99999999999999999999", headers=bearer(token))
    assert huge.status == 404
    card = await (await client.get(f"{ADMIN}/users/{ids[0]}", headers=bearer(token))).json()
    assert card["has_beta_access"] is True
    assert card["username_tg"] is None


async def test_every_admin_change_is_audited_with_the_request_id(make_client: MakeClient) -> None:
    client, owner_id, token = await admin_client(make_client)
    target, _ = await register(client, "ann@example.org")
    response = await client.patch(
        f"{ADMIN}/users/{target}",
        json={"has_beta_access": True, "has_alpha_access": False},
        headers={**bearer(token), "X-Request-ID": "req-42"},
    )
    assert response.status == 200
    assert (await response.json())["has_beta_access"] is True
    audit = await (await client.get(f"{ADMIN}/audit", params={"target_id": target}, headers=bearer(token))).json()
    [entry] = audit["entries"]
    assert entry["actor_id"] == owner_id
    assert entry["face"] == "rest"
    assert entry["action"] == "user.update"
    assert entry["before"] == {"has_beta_access": False}
    assert entry["after"] == {"has_beta_access": True}
    assert entry["request_id"] == "req-42"
    by_actor = await (await client.get(f"{ADMIN}/audit", params={"actor_id": owner_id}, headers=bearer(token))).json()
    assert [e["id"] for e in by_actor["entries"]] == [entry["id"]]
    # The start-up grant is there too, by the system.
    everything = await (await client.get(f"{ADMIN}/audit", headers=bearer(token))).json()
    assert [(e["face"], e["action"], e["target_id"]) for e in everything["entries"]][-1] == (
        "system",
        "admin.initial",
        owner_id,
    )


async def test_escalation_attempts_are_refused(make_client: MakeClient) -> None:
    client, owner_id, owner = await admin_client(make_client)
    user_id, user = await register(client, "ann@example.org")
    staff_id, _ = await register(client, "staff@example.org")
    assert (await patch(client, owner, staff_id, is_staff=True)).status == 200
    staff = await login(client, "staff@example.org")

    # A user PATCHing themselves or someone else: no admin level.
    assert (await patch(client, user, user_id, is_staff=True)).status == 403
    assert (await patch(client, user, owner_id, is_active=False)).status == 403
    # Privileged fields in the user's own profile update are ignored.
    await client.put(f"{API}/auth/profile", json={"first_name": "A", "is_staff": True}, headers=bearer(user))
    assert (await (await client.get(f"{API}/auth/profile", headers=bearer(user))).json())["is_staff"] is False
    # Staff: not on themselves, not staff or full permissions for anyone, not on an owner.
    own = await patch(client, staff, staff_id, full_permissions_api=True)
    assert own.status == 403
    assert (await own.json())["error_code"] == "OWN_ACCESS"
    assert (await patch(client, staff, user_id, is_staff=True)).status == 403
    assert (await patch(client, staff, owner_id, is_active=False)).status == 403
    # The owner cannot lock themselves out either.
    assert (await patch(client, owner, owner_id, is_staff=False)).status == 403
    # What staff may do: beta for an ordinary user.
    assert (await patch(client, staff, user_id, has_beta_access=True)).status == 200
    # Wrong bodies: no fields, a non-boolean.
    assert (await patch(client, owner, user_id)).status == 422
    assert (await patch(client, owner, user_id, is_active="no")).status == 422
    assert (await patch(client, owner, 999999, is_active=False)).status == 404


async def test_removed_level_and_disabled_account_refused_at_once_on_every_replica(
    make_client: MakeClient,
) -> None:
    first, _, owner = await admin_client(make_client)
    second = await make_client(ratelimit=LIMITS, access={"initial_admin_emails": [OWNER]})
    staff_id, _ = await register(first, "staff@example.org")
    staff = await login(first, "staff@example.org")
    # The second replica has seen (and cached) this user as an ordinary one.
    assert (await second.get(f"{ADMIN}/users", headers=bearer(staff))).status == 403
    assert (await patch(first, owner, staff_id, is_staff=True)).status == 200
    # A level granted elsewhere counts at once here: the user's revision was published.
    assert (await second.get(f"{ADMIN}/users", headers=bearer(staff))).status == 200
    # Removed: every session of the user ends, on both replicas.
    assert (await patch(first, owner, staff_id, is_staff=False)).status == 200
    for client in (first, second):
        refused = await client.get(f"{ADMIN}/users", headers=bearer(staff))
        assert refused.status == 401
        assert (await client.get(f"{API}/users/me", headers=bearer(staff))).status == 401
    # Disabled: the fresh session dies too, and signing in again is refused.
    staff = await login(first, "staff@example.org")
    assert (await patch(first, owner, staff_id, is_active=False)).status == 200
    for client in (first, second):
        assert (await client.get(f"{API}/users/me", headers=bearer(staff))).status == 401
    again = await first.post(f"{API}/auth/login", json={"email": "staff@example.org", "password": PASSWORD})
    assert again.status in (401, 403)


async def test_new_users_with_the_referrers_telegram_id(make_client: MakeClient) -> None:
    client, _, token = await admin_client(make_client)
    referrer, _ = await register(client, "ref@example.org")
    newcomer, _ = await register(client, "new@example.org")
    async with client.app[CONTAINER].unit_of_work(write=True) as uow:
        await uow.session.execute(update(User).where(User.id == referrer).values(telegram_id=555_000_111))
        await uow.session.execute(update(User).where(User.id == newcomer).values(referred_by_id=referrer))
    body = await (await client.get(f"{ADMIN}/new-users", params={"hours": 1}, headers=bearer(token))).json()
    assert body["result"] == "success"
    rows = {row["id"]: row for row in body["data"]}
    assert rows[newcomer]["referred_by_telegram_id"] == 555_000_111
    assert rows[referrer]["referred_by_telegram_id"] is None
    assert (await client.get(f"{ADMIN}/new-users", params={"hours": 0}, headers=bearer(token))).status == 422
    assert (await client.get(f"{ADMIN}/new-users", params={"hours": "x"}, headers=bearer(token))).status == 422


async def test_openapi_documents_the_admin_statuses(make_client: MakeClient) -> None:
    client = await make_client(ratelimit=LIMITS)
    spec = await (await client.get("/openapi.json")).json()
    operation = spec["paths"]["/api/v1/auth/admin/users/{user_id}"]["patch"]
    assert {"401", "403", "404", "422"} <= set(operation["responses"])
    assert operation["x-access-feature"] == "admin"


@route("GET", "/test/wallet", summary="A beta feature, for this test", auth=True, access="wallet")
async def wallet_probe(request: web.Request) -> web.StreamResponse:
    return web.json_response({"ok": True})


async def test_route_flag_applies_the_features_level_on_every_replica(
    tmp_path: Path, kv: KeyValueStore, clock: ManualClock, database_url: str, aiohttp_client: AiohttpClient
) -> None:
    settings = build_settings(tmp_path, ratelimit=LIMITS, access={"initial_admin_emails": [OWNER]})
    replicas: list[Client] = []
    for _ in range(2):
        container = await make_container(tmp_path, kv, clock, settings, url=database_url)
        await auth_jobs.warm_denylist(container, force=True)
        app = create_test_app(container, settings)
        Api.collect(sys.modules[__name__]).register(app)
        replicas.append(await aiohttp_client(app))
    first, second = replicas
    try:
        await register(first, OWNER)
        await access_jobs.apply_initial_admins(first.app[CONTAINER])
        owner = await login(first, OWNER)
        ann_id, ann = await register(first, "ann@example.org")
        for client in replicas:
            refused = await client.get("/test/wallet", headers=bearer(ann))
            assert refused.status == 403
            body = await refused.json()
            assert body["detail"] == "User does not have access to BETA"
            assert body["error_code"] == "ACCESS_BETA"
        # Even a malformed admin query from a user is refused for the level first, before anything is parsed.
        assert (await second.get(f"{ADMIN}/users", params={"page_size": 0}, headers=bearer(ann))).status == 403
        assert (await patch(first, owner, ann_id, has_beta_access=True)).status == 200
        for client in replicas:
            assert (await client.get("/test/wallet", headers=bearer(ann))).status == 200
        assert (await patch(second, owner, ann_id, has_beta_access=False)).status == 200
        for client in replicas:
            assert (await client.get("/test/wallet", headers=bearer(ann))).status == 401
    finally:
        for client in replicas:
            await client.app[CONTAINER].close()
            await client.app[CONTAINER].db.dispose()


async def test_concurrent_changes_to_one_user_apply_one_after_the_other(make_client: MakeClient) -> None:
    client, _, owner = await admin_client(make_client)
    target, _ = await register(client, "ann@example.org")
    async with client.app[CONTAINER].unit_of_work(write=False) as uow:
        revision = (await uow.session.get_one(User, target)).revision
    flags = ["has_beta_access", "has_alpha_access", "is_bot_suspected"]
    responses = await asyncio.gather(*(patch(client, owner, target, **{flag: True}) for flag in flags * 3))
    assert [response.status for response in responses] == [200] * 9
    async with client.app[CONTAINER].unit_of_work(write=False) as uow:
        row = await uow.session.get_one(User, target)
        assert all(getattr(row, flag) for flag in flags)
        # One revision per effective change: no two changes published the same revision.
        assert row.revision == revision + 3
    entries = (await (await client.get(f"{ADMIN}/audit", params={"target_id": target}, headers=bearer(owner))).json())[
        "entries"
    ]
    assert sorted(next(iter(entry["after"])) for entry in entries) == sorted(flags)
    assert all(next(iter(entry["before"].values())) is False for entry in entries)
