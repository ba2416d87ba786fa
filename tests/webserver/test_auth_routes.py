"""Identity over real HTTP, on both key-value stores: registration, sign-in, tokens, revocation, profile."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from core.auth.service import AuthService
from core.clock import ManualClock
from tests.helpers.app import Client
from tests.webserver.conftest import MakeClient
from webserver.keys import CONTAINER

API = "/api/v1"
PASSWORD = "correct horse battery"


async def register(
    client: Client, email: str = "ann@example.org", password: str = PASSWORD, **extra: Any
) -> dict[str, Any]:
    response = await client.post(f"{API}/auth/register", json={"email": email, "password": password, **extra})
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def me_status(client: Client, token: str) -> int:
    response = await client.get(f"{API}/users/me", headers=bearer(token))
    return response.status


async def test_register_shape_and_me(client: Client) -> None:
    body = await register(client, first_name="Ann", last_name="Lee")
    assert body["success"] is True
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert isinstance(body["user_id"], int)
    assert body["refresh_token"] != body["access_token"]
    me = await client.get(f"{API}/users/me", headers=bearer(body["access_token"]))
    assert me.status == 200
    data = await me.json()
    assert data["id"] == body["user_id"]
    assert data["email"] == "ann@example.org"
    assert data["first_name"] == "Ann"
    assert data["created_at"].endswith("Z")
    assert "password_hash" not in data
    assert me.headers["X-RateLimit-Limit"] == "1000"


async def test_duplicate_email_is_409_regardless_of_case(client: Client) -> None:
    await register(client, "Ann@Example.org")
    again = await client.post(f"{API}/auth/register", json={"email": "ann@example.ORG", "password": PASSWORD})
    assert again.status == 409
    body = await again.json()
    assert body["error_code"] == "EMAIL_TAKEN"


async def test_twenty_concurrent_registrations_make_one_user(client: Client) -> None:
    async def attempt() -> int:
        response = await client.post(f"{API}/auth/register", json={"email": "race@example.org", "password": PASSWORD})
        return response.status

    statuses = await asyncio.gather(*(attempt() for _ in range(20)))
    assert sorted(statuses) == [200] + [409] * 19


async def test_privileged_fields_are_ignored(client: Client) -> None:
    body = await register(
        client,
        "sneaky@example.org",
        id=424242,
        is_active=False,
        email_verified=True,
        is_staff=True,
        token_version=99,
        levels=["admin"],
    )
    assert body["user_id"] != 424242
    me = await (await client.get(f"{API}/users/me", headers=bearer(body["access_token"]))).json()
    assert me["is_active"] is True
    assert me["email_verified"] is False


@pytest.mark.parametrize(
    ("password", "status"),
    [("x" * 7, 422), ("Tr0ub4dor&3"[:8], 200), ("ü" * 128, 200), ("x" * 129, 422), ("password123", 422)],
)
async def test_password_rules(client: Client, password: str, status: int) -> None:
    response = await client.post(f"{API}/auth/register", json={"email": "p@example.org", "password": password})
    assert response.status == status, await response.text()
    if status == 422:
        body = await response.json()
        assert body["error_code"] in {"VALIDATION_ERROR", "PASSWORD_TOO_COMMON"}
        assert password not in await response.text()


async def test_long_password_is_not_truncated(client: Client) -> None:
    password = "ж" * 127 + "a"
    await register(client, "long@example.org", password)
    near = await client.post(f"{API}/auth/login", json={"email": "long@example.org", "password": "ж" * 127 + "b"})
    assert near.status == 401
    exact = await client.post(f"{API}/auth/login", json={"email": "long@example.org", "password": password})
    assert exact.status == 200


async def test_megabyte_body_is_413(client: Client) -> None:
    response = await client.post(
        f"{API}/auth/register", data=b"{" + b" " * (1024 * 1024) + b"}", headers={"Content-Type": "application/json"}
    )
    assert response.status == 413
    assert (await response.json())["error_code"] == "PAYLOAD_TOO_LARGE"


@pytest.mark.parametrize(
    "name",
    [
        "Robert'); DROP TABLE users;--",
        "' OR 1=1 --",
        "\u202egnirts desrever",
        "Zoë \U0001f9d1\u200d\U0001f4bb",
        "e\u0301",
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    ],
)
async def test_unusual_strings_round_trip_exactly(client: Client, name: str) -> None:
    body = await register(client, "strings@example.org", first_name=name, last_name=name[::-1])
    me = await (await client.get(f"{API}/users/me", headers=bearer(body["access_token"]))).json()
    assert me["first_name"] == name
    assert me["last_name"] == name[::-1]


async def test_nul_character_is_refused_not_stored(client: Client) -> None:
    # SQLite would store it and PostgreSQL would fail on it; refused for both so they behave alike.
    response = await client.post(
        f"{API}/auth/register", json={"email": "nul@example.org", "password": PASSWORD, "first_name": "a\u0000b"}
    )
    assert response.status == 422
    assert (await response.json())["errors"][0]["loc"] == ["first_name"]


async def test_signup_and_login_variants(client: Client) -> None:
    signup = await client.post(
        f"{API}/auth/signup/",
        data={"username": "john_doe", "email": "john@example.org", "password": PASSWORD, "first_name": "John"},
    )
    assert signup.status == 201
    assert (await signup.json())["token_type"] == "bearer"
    for form in (
        {"username": "JOHN_DOE", "password": PASSWORD},
        {"username": "john@example.org", "password": PASSWORD},
    ):
        response = await client.post(f"{API}/auth/login", data=form)
        assert response.status == 200, form
        body = await response.json()
        assert set(body) >= {"access_token", "refresh_token", "token_type", "user_id", "expires_in"}
    json_login = await client.post(f"{API}/auth/login", json={"email": "JOHN@example.org", "password": PASSWORD})
    assert json_login.status == 200
    taken = await client.post(
        f"{API}/auth/signup", json={"username": "John_Doe", "email": "other@example.org", "password": PASSWORD}
    )
    assert taken.status == 409
    assert (await taken.json())["error_code"] == "USERNAME_TAKEN"


async def test_unknown_email_and_wrong_password_look_the_same(client: Client) -> None:
    await register(client, "real@example.org")
    wrong = await client.post(f"{API}/auth/login", json={"email": "real@example.org", "password": "wrong password"})
    unknown = await client.post(f"{API}/auth/login", json={"email": "nobody@example.org", "password": "wrong password"})
    assert wrong.status == unknown.status == 401
    first, second = await wrong.json(), await unknown.json()
    assert first["detail"] == second["detail"]
    assert first["error_code"] == second["error_code"]


async def test_missing_and_invalid_tokens(client: Client) -> None:
    missing = await client.get(f"{API}/users/me")
    assert missing.status == 401
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    for header in ("Bearer nonsense", "Bearer a.b.c", "Basic dXNlcjpwYXNz", "Bearer "):
        response = await client.get(f"{API}/users/me", headers={"Authorization": header})
        assert response.status == 401, header
        assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
        assert (await response.json())["error_code"] == "INVALID_TOKEN"


async def test_token_types_cannot_be_swapped(client: Client) -> None:
    body = await register(client)
    assert await me_status(client, body["refresh_token"]) == 401
    as_refresh = await client.post(f"{API}/auth/refresh", json={"refresh_token": body["access_token"]})
    assert as_refresh.status == 401


async def test_access_token_expiry_boundary(client: Client, clock: ManualClock) -> None:
    body = await register(client)
    clock.advance(899)
    assert await me_status(client, body["access_token"]) == 200
    clock.advance(1)
    assert await me_status(client, body["access_token"]) == 401


async def test_logout_revokes_at_once(client: Client) -> None:
    body = await register(client)
    other = await (
        await client.post(f"{API}/auth/login", json={"email": "ann@example.org", "password": PASSWORD})
    ).json()
    logout = await client.post(f"{API}/auth/logout", headers=bearer(body["access_token"]))
    assert logout.status == 200
    assert (await logout.json())["result"] == "success"
    assert await me_status(client, body["access_token"]) == 401
    refresh = await client.post(f"{API}/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert refresh.status == 401
    # Another session of the same user is untouched.
    assert await me_status(client, other["access_token"]) == 200


async def test_logout_everywhere(client: Client) -> None:
    first = await register(client)
    second = await (
        await client.post(f"{API}/auth/login", json={"email": "ann@example.org", "password": PASSWORD})
    ).json()
    sessions = await (await client.get(f"{API}/auth/sessions", headers=bearer(first["access_token"]))).json()
    assert len(sessions["sessions"]) == 2
    assert sum(session["current"] for session in sessions["sessions"]) == 1
    response = await client.post(f"{API}/auth/logout-all", headers=bearer(second["access_token"]))
    assert (await response.json())["sessions_revoked"] == 2
    for pair in (first, second):
        assert await me_status(client, pair["access_token"]) == 401
        refreshed = await client.post(f"{API}/auth/refresh-token", json={"refresh_token": pair["refresh_token"]})
        assert refreshed.status == 401


async def test_delete_one_session(client: Client) -> None:
    first = await register(client)
    second = await (
        await client.post(f"{API}/auth/login", json={"email": "ann@example.org", "password": PASSWORD})
    ).json()
    listing = await (await client.get(f"{API}/auth/sessions", headers=bearer(first["access_token"]))).json()
    other_id = next(s["id"] for s in listing["sessions"] if not s["current"])
    deleted = await client.delete(f"{API}/auth/sessions/{other_id}", headers=bearer(first["access_token"]))
    assert deleted.status == 200
    assert await me_status(client, second["access_token"]) == 401
    assert await me_status(client, first["access_token"]) == 200
    again = await client.delete(f"{API}/auth/sessions/{other_id}", headers=bearer(first["access_token"]))
    assert again.status == 404


async def test_password_change_revokes_everything(client: Client) -> None:
    first = await register(client)
    wrong = await client.post(
        f"{API}/auth/password",
        json={"current_password": "not it at all", "new_password": "brand new secret 1"},
        headers=bearer(first["access_token"]),
    )
    assert wrong.status == 401
    assert await me_status(client, first["access_token"]) == 200
    changed = await client.post(
        f"{API}/auth/password",
        json={"current_password": PASSWORD, "new_password": "brand new secret 1"},
        headers=bearer(first["access_token"]),
    )
    assert changed.status == 200
    fresh = await changed.json()
    assert await me_status(client, first["access_token"]) == 401
    assert (await client.post(f"{API}/auth/refresh", json={"refresh_token": first["refresh_token"]})).status == 401
    assert await me_status(client, fresh["access_token"]) == 200
    old = await client.post(f"{API}/auth/login", json={"email": "ann@example.org", "password": PASSWORD})
    assert old.status == 401
    new = await client.post(f"{API}/auth/login", json={"email": "ann@example.org", "password": "brand new secret 1"})
    assert new.status == 200


async def test_refresh_rotates_and_reuse_kills_family(client: Client, clock: ManualClock) -> None:
    first = await register(client)
    rotated = await client.post(f"{API}/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert rotated.status == 200
    second = await rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert await me_status(client, second["access_token"]) == 200
    clock.advance(11)
    reused = await client.post(f"{API}/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status == 401
    # The thief's reuse ended the whole session: the legitimate successor is dead too.
    assert (await client.post(f"{API}/auth/refresh", json={"refresh_token": second["refresh_token"]})).status == 401
    assert await me_status(client, second["access_token"]) == 401


async def test_grace_window_returns_same_successor(client: Client, clock: ManualClock) -> None:
    first = await register(client)
    one = await (await client.post(f"{API}/auth/refresh", json={"refresh_token": first["refresh_token"]})).json()
    clock.advance(5)
    two = await client.post(f"{API}/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert two.status == 200
    assert await two.json() == one
    assert await me_status(client, one["access_token"]) == 200


async def test_concurrent_refreshes_yield_one_successor(client: Client) -> None:
    first = await register(client)
    responses = await asyncio.gather(
        *(client.post(f"{API}/auth/refresh", json={"refresh_token": first["refresh_token"]}) for _ in range(5))
    )
    bodies = [await response.json() for response in responses]
    assert all(response.status == 200 for response in responses)
    assert len({body["refresh_token"] for body in bodies}) == 1
    assert len({body["access_token"] for body in bodies}) == 1


async def test_profile_get_and_put(client: Client) -> None:
    body = await register(client, first_name="Ann")
    headers = bearer(body["access_token"])
    profile = await (await client.get(f"{API}/auth/profile/", headers=headers)).json()
    assert profile["first_name"] == "Ann"
    assert profile["date_joined"].endswith("Z")
    updated = await client.put(
        f"{API}/auth/profile",
        json={
            "first_name": "Анна",
            "username": "ann_l",
            "language": "ru",
            "is_active": False,
            "email": "x@y.z",
            "id": 7,
        },
        headers=headers,
    )
    assert updated.status == 200, await updated.text()
    data = await updated.json()
    assert (data["first_name"], data["username"], data["language"]) == ("Анна", "ann_l", "ru")
    assert data["is_active"] is True
    assert data["email"] == "ann@example.org"
    # The cached user of the hot path follows the change at once.
    me = await (await client.get(f"{API}/users/me", headers=headers)).json()
    assert me["first_name"] == "Анна"
    check = await (await client.get(f"{API}/auth/check", headers=headers)).json()
    assert check == {"result": "success", "user_id": body["user_id"], "username": "ann_l", "telegram_id": None}
    other = await register(client, "bob@example.org")
    conflict = await client.put(
        f"{API}/auth/profile", json={"username": "ANN_L"}, headers=bearer(other["access_token"])
    )
    assert conflict.status == 409
    bad_language = await client.put(f"{API}/auth/profile", json={"language": "xx"}, headers=headers)
    assert bad_language.status == 422
    zone = await client.put(f"{API}/auth/profile", json={"time_zone": "asia/tokyo"}, headers=headers)
    assert (await zone.json())["time_zone"] == "Asia/Tokyo"
    bad_zone = await client.put(f"{API}/auth/profile", json={"time_zone": "Mars/Olympus"}, headers=headers)
    assert (bad_zone.status, (await bad_zone.json())["error_code"]) == (422, "INVALID_TIME_ZONE")
    profile = await (await client.get(f"{API}/auth/profile", headers=headers)).json()
    assert profile["time_zone"] == "Asia/Tokyo"


async def test_disabled_account_loses_tokens(client: Client) -> None:
    body = await register(client)
    # No route disables accounts yet (the admin issue adds one); the service is what it will call.
    async with client.app[CONTAINER].unit_of_work(write=True) as uow:
        await AuthService(uow).set_active(body["user_id"], False)
    assert await me_status(client, body["access_token"]) == 401
    login = await client.post(f"{API}/auth/login", json={"email": "ann@example.org", "password": PASSWORD})
    assert login.status == 403
    assert (await login.json())["error_code"] == "ACCOUNT_DISABLED"


async def test_rate_limit_headers_and_429(make_client: MakeClient) -> None:
    client = await make_client(ratelimit={"auth_limit": 3})
    statuses = []
    for _ in range(4):
        response = await client.post(f"{API}/auth/login", json={"email": "no@example.org", "password": "whatever"})
        statuses.append(response.status)
        last = response
    assert statuses[:3] == [401, 401, 401]
    assert statuses[3] == 429
    assert last.headers["X-RateLimit-Limit"] == "3"
    assert last.headers["X-RateLimit-Remaining"] == "0"
    assert int(last.headers["Retry-After"]) >= 1
    assert int(last.headers["X-RateLimit-Reset"]) > 0
    assert (await last.json())["error_code"] == "RATE_LIMITED"


async def test_login_backoff(make_client: MakeClient, clock: ManualClock) -> None:
    client = await make_client(ratelimit={"auth_limit": 1000, "login_free_failures": 2})
    await register(client, "victim@example.org")
    for _ in range(3):
        response = await client.post(f"{API}/auth/login", json={"email": "victim@example.org", "password": "guess!!!"})
        assert response.status in (401, 429)
    throttled = await client.post(f"{API}/auth/login", json={"email": "victim@example.org", "password": PASSWORD})
    assert throttled.status == 429
    wait = int(throttled.headers["Retry-After"])
    assert wait >= 1
    clock.advance(wait + 1)
    ok = await client.post(f"{API}/auth/login", json={"email": "victim@example.org", "password": PASSWORD})
    assert ok.status == 200


async def test_openapi_describes_every_route(client: Client) -> None:
    spec = await (await client.get("/openapi.json")).json()
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    undocumented_ok = {"/openapi.json", "/docs", "/telegram/webhook", "/static/app.css"}
    served = set()
    for route in client.app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        if route.method == "HEAD" or path is None:
            continue
        path = path.rstrip("/") or "/"
        if path in undocumented_ok or path.startswith("/docs"):
            continue
        served.add((path, route.method))
    assert served == documented
    for path, ops in spec["paths"].items():
        for op in ops.values():
            assert op["summary"], path
            assert op["responses"], path
    register_body = spec["paths"]["/api/v1/auth/register"]["post"]["requestBody"]["content"]["application/json"]
    assert register_body["schema"]["$ref"].endswith("/RegisterIn")
    assert "password" in spec["components"]["schemas"]["RegisterIn"]["properties"]


async def test_jwks_is_empty_for_hs256(client: Client) -> None:
    response = await client.get("/.well-known/jwks.json")
    assert response.status == 200
    assert await response.json() == {"keys": []}


@pytest.mark.parametrize("trusted", [True, False])
async def test_forwarded_for_only_from_trusted_proxies(make_client: MakeClient, trusted: bool) -> None:
    client = await make_client(
        web={"trusted_proxies": ["127.0.0.1/32", "::1"] if trusted else []}, ratelimit={"auth_limit": 2}
    )

    async def attempt(ip: str) -> int:
        response = await client.post(
            f"{API}/auth/login",
            json={"email": "x@example.org", "password": "whatever"},
            headers={"X-Forwarded-For": ip},
        )
        return response.status

    assert [await attempt("203.0.113.1"), await attempt("203.0.113.1")] == [401, 401]
    # Behind a trusted proxy each client has its own budget; otherwise the header is ignored and the
    # third request from the same peer is refused, whatever address it claims.
    assert await attempt("203.0.113.2") == (401 if trusted else 429)
