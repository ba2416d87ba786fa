"""Signed service routes over real HTTP, on both key-value stores: the outside client for what should work, hand-built
requests for what must not, and the database to prove that refused calls left nothing behind."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientResponse
from pytest_aiohttp import AiohttpClient
from sqlalchemy import func, select

from core.auth import jobs as auth_jobs
from core.clock import ManualClock
from core.container import Container
from core.identity.service import IdentityService
from storage.kv import KeyValueStore, KeyValueUnavailable, MemoryStore
from storage.models.auth import AuthSession
from storage.models.identity import BindingCode
from storage.models.user import User
from tests.helpers.app import Client, create_test_app, make_container
from tests.helpers.app import test_settings as build_settings
from tests.webserver.conftest import MakeClient
from tests.webserver.test_telegram_routes import init_data, tma
from webserver.keys import CONTAINER
from webserver.signed import session_method

# The outside client is a single file that bots copy next to their code; it is imported the way they import it.
_CLIENT_DIR = str(Path(__file__).resolve().parents[2] / "clients" / "python")
if _CLIENT_DIR not in sys.path:
    sys.path.insert(0, _CLIENT_DIR)

from unibot_client import UnibotServiceClient, sign_request  # noqa: E402

API = "/api/v1"
CLIENT_ID = "partner-bot"
SECRET = "partner-secret-0123456789abcdef-0123456789"
ROTATED = "partner-rotated-0123456789abcdef-012345678"
OTHER_ID = "other-bot"
OTHER_SECRET = "other-secret-0123456789abcdef-0123456789ab"
PASSWORD = "correct horse battery"
MAX_ATTEMPTS = 3
FAILURE = {"detail": "Invalid request signature", "error_code": "INVALID_SIGNATURE"}
SIGNING_HEADERS = ("X-Client-Id", "X-Timestamp", "X-Nonce", "X-Signature")

MakeSigned = Callable[..., Awaitable[Client]]


@pytest.fixture
async def make_signed(
    tmp_path: Path, kv: KeyValueStore, clock: ManualClock, aiohttp_client: AiohttpClient
) -> AsyncIterator[MakeSigned]:
    """Like make_client, but registers two outside bots before the server starts (the app is frozen after)."""
    built: list[Container] = []

    async def make(*, store: KeyValueStore | None = None, ratelimit: dict[str, int] | None = None) -> Client:
        settings = build_settings(
            tmp_path,
            ratelimit={"auth_limit": 1000, "general_limit": 1000, "user_limit": 1000, **(ratelimit or {})},
            telegram_auth={"binding_code_max_attempts": MAX_ATTEMPTS},
            signing={
                "clients": [CLIENT_ID, OTHER_ID],
                "secrets": json.dumps({CLIENT_ID: [SECRET, ROTATED], OTHER_ID: [OTHER_SECRET]}),
            },
        )
        container = await make_container(tmp_path, store or kv, clock, settings)
        await auth_jobs.warm_denylist(container, force=True)
        built.append(container)
        # The signing clients come from the settings' signing section, as run.py's web_config reads them.
        app = create_test_app(container, settings, version="9.9.9")
        return await aiohttp_client(app)

    yield make
    for container in built:
        await container.close()
        await container.db.dispose()


@pytest.fixture
async def client(make_signed: MakeSigned) -> Client:
    return await make_signed()


def base_url(client: Client) -> str:
    return str(client.make_url("/")).rstrip("/")


@pytest.fixture
async def bot(client: Client, clock: ManualClock) -> AsyncIterator[UnibotServiceClient]:
    async with UnibotServiceClient(base_url(client), CLIENT_ID, SECRET, clock=clock.time) as service_client:
        yield service_client


_nonces = iter(range(10**9))


def fresh_nonce() -> str:
    return f"test-nonce-{next(_nonces):012d}"


def signed_headers(
    clock: ManualClock,
    path: str,
    body: bytes = b"",
    *,
    method: str = "POST",
    client_id: str = CLIENT_ID,
    secret: str = SECRET,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    stamp = int(clock.time()) if timestamp is None else timestamp
    once = nonce or fresh_nonce()
    headers = {
        "X-Client-Id": client_id,
        "X-Timestamp": str(stamp),
        "X-Nonce": once,
        "X-Signature": sign_request(secret, method, path, stamp, once, body),
    }
    if body:
        headers["Content-Type"] = "application/json"
    return headers


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


async def post(client: Client, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> ClientResponse:
    return await client.post(path, data=body, headers=headers or {})


async def assert_refused(response: ClientResponse) -> None:
    assert response.status == 401, await response.text()
    body = await response.json()
    assert set(body) == {"detail", "error_code", "timestamp"}
    assert {key: body[key] for key in FAILURE} == FAILURE


async def count(client: Client, model: type[Any]) -> int:
    container = client.app[CONTAINER]
    async with container.unit_of_work(write=False) as uow:
        result = await uow.session.execute(select(func.count()).select_from(model))
        return int(result.scalar_one())


async def counts(client: Client) -> tuple[int, int, int]:
    return await count(client, User), await count(client, AuthSession), await count(client, BindingCode)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def me(client: Client, token: str) -> dict[str, Any]:
    response = await client.get(f"{API}/users/me", headers=bearer(token))
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def register_email(client: Client, email: str) -> dict[str, Any]:
    response = await client.post(f"{API}/auth/register", json={"email": email, "password": PASSWORD})
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


# --- what a registered bot can do -----------------------------------------------------------------------------


async def test_signed_calls_are_limited_per_client_not_per_address(
    make_signed: MakeSigned, clock: ManualClock
) -> None:
    # The strict per-IP tier a sign-in form gets would stop a busy bot after 2 calls here; the service tier counts
    # each verified client on its own, whatever address it calls from.
    client = await make_signed(ratelimit={"auth_limit": 2, "service_limit": 4})
    path = f"{API}/auth/token/get"
    body = encode({"chat_id": 424242})

    async def call(client_id: str, secret: str) -> ClientResponse:
        headers = signed_headers(clock, path, body, client_id=client_id, secret=secret)
        return await post(client, path, body, headers)

    answers = [await call(CLIENT_ID, SECRET) for _ in range(5)]
    assert [answer.status for answer in answers] == [404, 404, 404, 404, 429]
    assert [answer.headers["X-RateLimit-Limit"] for answer in answers] == ["4"] * 5
    assert [answer.headers["X-RateLimit-Remaining"] for answer in answers] == ["3", "2", "1", "0", "0"]
    refused = answers[-1]
    assert int(refused.headers["Retry-After"]) >= 1
    assert (await refused.json())["error_code"] == "RATE_LIMITED"
    # Another client from the same address has a quota of its own.
    other = await call(OTHER_ID, OTHER_SECRET)
    assert other.status == 404
    assert other.headers["X-RateLimit-Remaining"] == "3"


async def test_bad_signatures_use_up_the_addresss_strict_quota(make_signed: MakeSigned, clock: ManualClock) -> None:
    client = await make_signed(ratelimit={"auth_limit": 2, "service_limit": 100})
    path = f"{API}/auth/token/get"
    body = encode({"chat_id": 424242})
    forged = signed_headers(clock, path, body, secret="not-the-secret-0123456789abcdef-0123456789")
    answers = [await post(client, path, body, {**forged, "X-Nonce": fresh_nonce()}) for _ in range(3)]
    assert [answer.status for answer in answers] == [401, 401, 429]
    assert answers[0].headers["X-RateLimit-Limit"] == "2"
    assert int(answers[2].headers["Retry-After"]) >= 1
    # A valid call is judged by its client's quota, not by the address's failures.
    good = await post(client, path, body, signed_headers(clock, path, body))
    assert good.status == 404
    assert good.headers["X-RateLimit-Limit"] == "100"


async def test_telegram_registration_token_get_and_refresh(client: Client, bot: UnibotServiceClient) -> None:
    status, body = await bot.telegram_register(1001, username="ann_tg", first_name="Ann", last_name="Lee")
    assert status == 200, body
    assert body["result"] == "success"
    data = body["data"]
    assert data["created"] is True
    assert data["referred_by_telegram_id"] is None
    assert set(data["token"]) == {"access", "refresh"}
    profile = await me(client, data["token"]["access"])
    assert (profile["id"], profile["telegram_id"], profile["first_name"]) == (data["user_id"], 1001, "Ann")

    status, again = await bot.telegram_register(1001, username="ann_tg", first_name="Ann")
    assert status == 200
    assert again["data"]["created"] is False
    assert again["data"]["user_id"] == data["user_id"]

    for call in (bot.token_get, bot.refresh_telegram):
        status, token = await call(1001)
        assert status == 200, token
        assert token["success"] is True
        assert token["token_type"] == "bearer"
        assert token["user_id"] == data["user_id"]
        assert token["expires_in"] == 900
        assert token["refresh_token"] != token["access_token"]
        assert (await me(client, token["access_token"]))["telegram_id"] == 1001

    sessions = await client.get(f"{API}/auth/sessions", headers=bearer(data["token"]["access"]))
    methods = {session["method"] for session in (await sessions.json())["sessions"]}
    assert methods == {f"service:{CLIENT_ID}"}


async def test_seed_000_query_string_shapes(client: Client, bot: UnibotServiceClient) -> None:
    params: dict[str, str | int] = {"chat_id": 2002, "username": "bob_tg", "first_name": "Bob", "last_name": ""}
    status, body = await bot.request("POST", f"{API}/auth/telegram/register", params=params)
    assert status == 200, body
    assert set(body) == {"success", "created", "user_id", "jwt_token", "refresh_token", "expires_in", "message"}
    assert body["success"] is True
    assert body["created"] is True
    profile = await me(client, body["jwt_token"])
    assert (profile["telegram_id"], profile["first_name"], profile["last_name"]) == (2002, "Bob", None)

    status, again = await bot.request("POST", f"{API}/auth/telegram/register", json={"chat_id": 2002})
    assert (status, again["created"], again["user_id"]) == (200, False, body["user_id"])

    status, refreshed = await bot.request("POST", f"{API}/auth/token/refresh-telegram", params={"chat_id": 2002})
    assert status == 200, refreshed
    assert refreshed["user_id"] == body["user_id"]


async def test_query_and_body_together_or_malformed_fields_are_422(bot: UnibotServiceClient) -> None:
    path = f"{API}/auth/token/refresh-telegram"
    status, body = await bot.request("POST", path, params={"chat_id": 1}, json={"chat_id": 1})
    assert (status, body["error_code"]) == (422, "VALIDATION_ERROR")
    for payload in ({"chat_id": "abc"}, {"chat_id": True}, {"chat_id": 0}, {"chat_id": 2**53 + 1}, {}):
        status, body = await bot.request("POST", f"{API}/auth/token/get", json=payload)
        assert status == 422, payload
        assert "abc" not in json.dumps(body)
    status, body = await bot.request("POST", f"{API}/auth/telegram/register", params={"chat_id": "x"})
    assert status == 422


async def test_token_for_unknown_chat_is_404_and_creates_nothing(client: Client, bot: UnibotServiceClient) -> None:
    before = await counts(client)
    for call in (bot.token_get, bot.refresh_telegram):
        status, body = await call(424242)
        assert status == 404
        assert body["detail"] == "User not found for this Telegram ID"
        assert set(body) == {"detail", "error_code", "timestamp"}
    assert await counts(client) == before


async def test_rotated_second_secret_and_second_client_work(client: Client, clock: ManualClock) -> None:
    for client_id, secret in ((CLIENT_ID, ROTATED), (OTHER_ID, OTHER_SECRET)):
        async with UnibotServiceClient(base_url(client), client_id, secret, clock=clock.time) as other:
            status, body = await other.telegram_start(3003)
        assert status == 200, body


async def test_timestamp_window_edges(client: Client, clock: ManualClock) -> None:
    now = int(clock.time())
    path = f"{API}/auth/telegram/start"
    payload = encode({"chat_id": 3003})
    for stamp in (now - 300, now + 300):
        response = await post(client, path, payload, signed_headers(clock, path, payload, timestamp=stamp))
        assert response.status == 200, await response.text()
    for stamp in (now - 301, now + 301, now - 86400, 0):
        await assert_refused(await post(client, path, payload, signed_headers(clock, path, payload, timestamp=stamp)))


# --- what nobody else can do ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("missing", SIGNING_HEADERS)
async def test_each_missing_header_is_401(client: Client, clock: ManualClock, missing: str) -> None:
    path = f"{API}/auth/telegram/start"
    payload = encode({"chat_id": 3003})
    headers = signed_headers(clock, path, payload)
    del headers[missing]
    await assert_refused(await post(client, path, payload, headers))
    assert await count(client, BindingCode) == 0


async def test_every_kind_of_bad_signature_gets_the_same_answer(client: Client, clock: ManualClock) -> None:
    path = f"{API}/auth/telegram/start"
    payload = encode({"chat_id": 3003})
    good = signed_headers(clock, path, payload)
    attempts: list[tuple[str, bytes, dict[str, str]]] = [
        ("wrong secret", payload, signed_headers(clock, path, payload, secret=OTHER_SECRET)),
        ("unknown client", payload, signed_headers(clock, path, payload, client_id="stranger-bot", secret=SECRET)),
        ("body changed", encode({"chat_id": 3004}), good),
        ("signature upper case", payload, {**good, "X-Signature": good["X-Signature"].upper()}),
        ("signature truncated", payload, {**good, "X-Signature": good["X-Signature"][:-1]}),
        ("nonce too short", payload, signed_headers(clock, path, payload, nonce="short")),
        ("timestamp padded", payload, {**good, "X-Timestamp": "0" + good["X-Timestamp"]}),
        ("client id malformed", payload, {**good, "X-Client-Id": "partner bot\tx"}),
        ("other method signed", payload, signed_headers(clock, path, payload, method="PUT")),
    ]
    bodies = []
    for label, body, headers in attempts:
        response = await post(client, path, body, headers)
        assert response.status == 401, label
        answer = await response.json()
        bodies.append({key: value for key, value in answer.items() if key != "timestamp"})
    assert all(body == FAILURE for body in bodies)
    assert await count(client, BindingCode) == 0
    # The untouched original still works: nothing above used up its nonce.
    response = await post(client, path, payload, good)
    assert response.status == 200, await response.text()


async def test_refusals_are_logged_with_the_reason_and_no_secret(
    client: Client, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="webserver.signed")
    path = f"{API}/auth/telegram/start"
    payload = encode({"chat_id": 3003})
    await post(client, path, payload, signed_headers(clock, path, payload, secret=OTHER_SECRET))
    await post(client, path, payload, signed_headers(clock, path, payload, client_id="stranger-bot"))
    await post(client, path, payload, {"X-Client-Id": "evil\tid"})
    records = [record for record in caplog.records if record.name == "webserver.signed"]
    assert [record.__dict__["reason"] for record in records] == [
        "signature mismatch",
        "unknown client",
        "missing X-Timestamp header",
    ]
    assert [record.__dict__["client_id"] for record in records] == [CLIENT_ID, "stranger-bot", None]
    assert all(record.levelno == logging.INFO for record in records)
    logged = caplog.text + " ".join(str(record.__dict__) for record in records)
    for secret in (SECRET, ROTATED, OTHER_SECRET):
        assert secret not in logged


async def test_repeated_header_is_refused(client: Client, clock: ManualClock) -> None:
    path = f"{API}/auth/telegram/start"
    payload = encode({"chat_id": 3003})
    headers = [*signed_headers(clock, path, payload).items(), ("X-Nonce", fresh_nonce())]
    response = await client.post(path, data=payload, headers=headers)
    await assert_refused(response)


async def test_replayed_nonce_is_refused(client: Client, clock: ManualClock) -> None:
    path = f"{API}/auth/telegram/start"
    payload = encode({"chat_id": 3003})
    headers = signed_headers(clock, path, payload)
    first = await post(client, path, payload, headers)
    assert first.status == 200
    await assert_refused(await post(client, path, payload, headers))
    clock.advance(200)
    await assert_refused(await post(client, path, payload, headers))
    # A fresh signature with the same nonce but a new timestamp is still a replay of that nonce.
    again = signed_headers(clock, path, payload, nonce=headers["X-Nonce"])
    await assert_refused(await post(client, path, payload, again))
    assert await count(client, BindingCode) == 1


async def test_path_or_query_changed_after_signing(
    client: Client, bot: UnibotServiceClient, clock: ManualClock
) -> None:
    await bot.telegram_register(4004)
    await bot.telegram_register(4005)
    signed_for = f"{API}/auth/token/refresh-telegram?chat_id=4004"
    headers = signed_headers(clock, signed_for)
    for sent_to in (
        f"{API}/auth/token/refresh-telegram?chat_id=4005",
        f"{API}/auth/token/refresh-telegram?chat_id=4004&chat_id=4005",
        f"{API}/auth/token/refresh-telegram/?chat_id=4004",
        f"{API}/auth/token/refresh-telegram",
    ):
        await assert_refused(await post(client, sent_to, b"", headers))
    payload = encode({"chat_id": 4004})
    token_headers = signed_headers(clock, f"{API}/auth/token/get", payload)
    await assert_refused(await post(client, f"{API}/auth/token/refresh-telegram", payload, token_headers))
    response = await post(client, signed_for, b"", headers)
    assert response.status == 200, await response.text()


async def test_no_route_gives_anything_for_a_bare_telegram_id(client: Client, bot: UnibotServiceClient) -> None:
    status, _ = await bot.telegram_register(5005)
    assert status == 200
    email = await register_email(client, "owner@example.org")
    before = await counts(client)
    calls: list[tuple[str, dict[str, Any], dict[str, str]]] = [
        (f"{API}/auth/token/get", {"chat_id": 5005}, {}),
        (f"{API}/auth/token/refresh-telegram?chat_id=5005", {}, {}),
        (f"{API}/auth/token/refresh-telegram", {"chat_id": 5005}, {}),
        (f"{API}/auth/telegram/register?chat_id=5006&username=x", {}, {}),
        (f"{API}/auth/telegram/register", {"chat_id": 5006}, {}),
        (f"{API}/auth/telegram/start", {"chat_id": 5006}, {}),
        (
            f"{API}/auth/telegram/confirm",
            {"code": "anything", "chat_id": 5006},
            bearer(email["access_token"]),
        ),
        (f"{API}/auth/register", {"telegram_id": 5006, "username_tg": "eve"}, {}),
        (f"{API}/auth/register", {"telegram_id": 5005}, {}),
    ]
    for path, payload, extra in calls:
        for body_bytes in (encode(payload) if payload else b"", b"\x00not json", b"[1, 2]"):
            headers = {"Content-Type": "application/json", **extra}
            response = await post(client, path, body_bytes, headers)
            if path.endswith("/auth/register") and body_bytes != encode(payload):
                # Not a Telegram body, so the email registration answers it (and creates nothing either).
                assert response.status in (400, 422), path
                continue
            await assert_refused(response)
    assert await counts(client) == before


async def test_unconfigured_app_refuses_every_signed_call(make_client: MakeClient, clock: ManualClock) -> None:
    plain = await make_client(ratelimit={"auth_limit": 1000})
    async with UnibotServiceClient(base_url(plain), CLIENT_ID, SECRET, clock=clock.time) as unregistered:
        for status, _ in (
            await unregistered.telegram_register(6006),
            await unregistered.token_get(6006),
            await unregistered.telegram_start(6006),
        ):
            assert status == 401
    assert await counts(plain) == (0, 0, 0)


class _NonceStoreDown(MemoryStore):
    async def set_if_absent(self, key: str, value: bytes | str, *, ttl: float | None = None) -> bool:
        raise KeyValueUnavailable("down")


async def test_nonce_store_outage_refuses_without_a_500(make_signed: MakeSigned, clock: ManualClock) -> None:
    down = await make_signed(store=_NonceStoreDown())
    async with UnibotServiceClient(base_url(down), CLIENT_ID, SECRET, clock=clock.time) as service_client:
        status, body = await service_client.telegram_start(7007)
    assert status == 503
    assert body["error_code"] == "SERVICE_UNAVAILABLE"
    assert await count(down, BindingCode) == 0


# --- POST /auth/register: two bodies, one route --------------------------------------------------------------------


async def test_register_with_telegram_id_needs_a_signature(client: Client, clock: ManualClock) -> None:
    path = f"{API}/auth/register"
    payload = encode({"telegram_id": 8008, "username_tg": "mallory"})
    await assert_refused(await post(client, path, payload, {"Content-Type": "application/json"}))
    await assert_refused(await post(client, path, payload, signed_headers(clock, path, payload, secret=OTHER_SECRET)))
    assert await counts(client) == (0, 0, 0)
    response = await post(client, path, payload, signed_headers(clock, path, payload))
    assert response.status == 200, await response.text()
    assert (await response.json())["data"]["created"] is True


async def test_email_registration_still_works_unsigned(client: Client) -> None:
    body = await register_email(client, "plain@example.org")
    assert body["success"] is True
    assert body["message"] == "User registered successfully"
    assert (await me(client, body["access_token"]))["email"] == "plain@example.org"
    missing = await client.post(f"{API}/auth/register", json={"email": "x@example.org"})
    assert missing.status == 422
    assert [error["loc"] for error in (await missing.json())["errors"]] == [["password"]]
    form = await client.post(f"{API}/auth/register", data={"email": "x@example.org", "password": PASSWORD})
    assert form.status == 415


async def test_signed_registration_validates_after_the_signature(bot: UnibotServiceClient) -> None:
    for payload in ({"telegram_id": "abc"}, {"telegram_id": None}, {"telegram_id": 1, "username_tg": "x" * 256}):
        status, body = await bot.request("POST", f"{API}/auth/register", json=payload)
        assert (status, body["error_code"]) == (422, "VALIDATION_ERROR"), payload


async def test_referral_by_the_referrers_telegram_id(client: Client, bot: UnibotServiceClient) -> None:
    _, referrer = await bot.telegram_register(9001, username="ref")
    _, other = await bot.telegram_register(9002, username="other")

    status, body = await bot.telegram_register(9100, referred_by_id=9001)
    assert status == 200
    assert body["data"]["referred_by_telegram_id"] == 9001
    # Repeating the registration with another referrer neither overwrites nor creates anything.
    _, again = await bot.telegram_register(9100, referred_by_id=9002)
    assert (again["data"]["created"], again["data"]["referred_by_telegram_id"]) == (False, 9001)

    _, self_referred = await bot.telegram_register(9200, referred_by_id=9200)
    _, unknown = await bot.telegram_register(9300, referred_by_id=123456)
    _, existing = await bot.telegram_register(9002, referred_by_id=9001)
    assert self_referred["data"]["referred_by_telegram_id"] is None
    assert unknown["data"]["referred_by_telegram_id"] is None
    assert (existing["data"]["created"], existing["data"]["referred_by_telegram_id"]) == (False, None)

    container = client.app[CONTAINER]
    async with container.unit_of_work(write=False) as uow:
        rows = {row.telegram_id: row for row in (await uow.session.execute(select(User))).scalars()}
    assert rows[9100].referred_by_id == referrer["data"]["user_id"]
    assert rows[9002].referred_by_id is None
    assert rows[9200].referred_by_id is None
    async with container.unit_of_work(write=False) as uow:
        info = await IdentityService(uow).referral_info(referrer["data"]["user_id"])
    assert info.count == 1
    assert other["data"]["user_id"] != referrer["data"]["user_id"]


# --- linking a Telegram chat to an email account --------------------------------------------------------------------


async def test_start_and_confirm_link_the_chat(client: Client, bot: UnibotServiceClient) -> None:
    account = await register_email(client, "linker@example.org")
    status, issued = await bot.telegram_start(10_001)
    assert status == 200
    assert set(issued) == {"code", "expires_in"}
    assert issued["expires_in"] == 600

    status, linked = await bot.telegram_confirm(
        issued["code"], 10_001, account["access_token"], username="linker_tg", first_name="Lin"
    )
    assert status == 200, linked
    assert set(linked) == {"success", "user_id", "jwt_token", "expires_at"}
    assert linked["success"] is True
    assert linked["user_id"] == account["user_id"]
    assert linked["expires_at"].startswith("2030-01-01T00:15:00")
    for token in (account["access_token"], linked["jwt_token"]):
        profile = await me(client, token)
        assert (profile["id"], profile["telegram_id"], profile["first_name"]) == (account["user_id"], 10_001, "Lin")

    status, again = await bot.telegram_confirm(issued["code"], 10_001, account["access_token"])
    assert (status, again["error_code"]) == (422, "INVALID_CODE")
    # The chat now belongs to the account: the token routes hand out the account's tokens.
    status, token = await bot.token_get(10_001)
    assert (status, token["user_id"]) == (200, account["user_id"])


async def test_confirm_retires_the_bare_telegram_user(client: Client, bot: UnibotServiceClient) -> None:
    _, bare = await bot.telegram_register(10_002, first_name="Bare")
    account = await register_email(client, "merge@example.org")
    _, issued = await bot.telegram_start(10_002)
    status, linked = await bot.telegram_confirm(issued["code"], 10_002, account["access_token"])
    assert status == 200, linked
    assert (await me(client, linked["jwt_token"]))["telegram_id"] == 10_002
    status, _ = await bot.token_get(10_002)
    assert status == 200
    assert await me_status(client, bare["data"]["token"]["access"]) == 401


async def me_status(client: Client, token: str) -> int:
    response = await client.get(f"{API}/users/me", headers=bearer(token))
    return response.status


async def test_confirm_needs_both_signature_and_bearer(
    client: Client, bot: UnibotServiceClient, clock: ManualClock
) -> None:
    account = await register_email(client, "both@example.org")
    _, issued = await bot.telegram_start(10_003)
    path = f"{API}/auth/telegram/confirm"
    payload = encode({"code": issued["code"], "chat_id": 10_003})

    await assert_refused(await post(client, path, payload, {**bearer(account["access_token"])}))
    no_bearer = await post(client, path, payload, signed_headers(clock, path, payload))
    assert no_bearer.status == 401
    assert (await no_bearer.json())["error_code"] == "NOT_AUTHENTICATED"
    forged = await post(client, path, payload, {**signed_headers(clock, path, payload), **bearer("x.y.z")})
    assert forged.status == 401
    assert (await forged.json())["error_code"] == "INVALID_TOKEN"

    response = await post(
        client, path, payload, {**signed_headers(clock, path, payload), **bearer(account["access_token"])}
    )
    assert response.status == 200, await response.text()


async def test_wrong_codes_void_the_chats_live_codes(client: Client, bot: UnibotServiceClient) -> None:
    account = await register_email(client, "guess@example.org")
    _, issued = await bot.telegram_start(10_004)
    _, other_chat = await bot.telegram_start(10_005)
    for attempt in range(MAX_ATTEMPTS):
        status, body = await bot.telegram_confirm(f"wrong-{attempt}", 10_004, account["access_token"])
        assert (status, body["error_code"]) == (422, "INVALID_CODE")
    # Another chat's genuine code does not fit this chat either (and counts as a wrong try).
    status, _ = await bot.telegram_confirm(other_chat["code"], 10_004, account["access_token"])
    assert status == 422
    status, body = await bot.telegram_confirm(issued["code"], 10_004, account["access_token"])
    assert (status, body["error_code"]) == (422, "INVALID_CODE")
    assert (await me(client, account["access_token"]))["telegram_id"] is None
    # The other chat's code was not touched by guesses against this chat.
    status, _ = await bot.telegram_confirm(other_chat["code"], 10_005, account["access_token"])
    assert status == 200


async def test_confirm_conflicts_are_409(client: Client, bot: UnibotServiceClient) -> None:
    first = await register_email(client, "first@example.org")
    second = await register_email(client, "second@example.org")
    _, code = await bot.telegram_start(10_006)
    # Issued while the chat was still unlinked; redeemed after the first link.
    _, taken = await bot.telegram_start(10_006)
    assert (await bot.telegram_confirm(code["code"], 10_006, first["access_token"]))[0] == 200

    status, body = await bot.telegram_confirm(taken["code"], 10_006, second["access_token"])
    assert (status, body["error_code"]) == (409, "TELEGRAM_TAKEN")
    # Once linked, the chat gets no new code.
    status, body = await bot.telegram_start(10_006)
    assert (status, body["error_code"]) == (409, "ALREADY_LINKED")

    _, another = await bot.telegram_start(10_007)
    status, body = await bot.telegram_confirm(another["code"], 10_007, first["access_token"])
    assert (status, body["error_code"]) == (409, "ALREADY_LINKED")


# --- the description -----------------------------------------------------------------------------------------------


async def test_openapi_describes_the_signed_routes(client: Client) -> None:
    spec = await (await client.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    expected = {
        "/auth/token/get": "ServiceTokenOut",
        "/auth/token/refresh-telegram": "ServiceTokenOut",
        "/auth/telegram/register": "TelegramRegisterOut",
        "/auth/telegram/start": "CodeOut",
        "/auth/telegram/confirm": "ConfirmOut",
    }
    for path, response_model in expected.items():
        operation = spec["paths"][API + path]["post"]
        assert "X-Signature" in operation["description"]
        assert "`chat_id` (integer, required)" in operation["description"]
        success = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert success == {"$ref": f"#/components/schemas/{response_model}"}
        assert "401" in operation["responses"]
        assert response_model in schemas
    register = spec["paths"][f"{API}/auth/register"]["post"]
    assert "X-Signature" in register["description"]
    body_ref = register["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body_ref == "#/components/schemas/RegisterIn"
    body_schema = schemas["RegisterIn"]
    assert set(body_schema["properties"]) == {
        "email",
        "password",
        "first_name",
        "last_name",
        "telegram_id",
        "username_tg",
        "referred_by_id",
    }
    assert body_schema["anyOf"] == [{"required": ["email", "password"]}, {"required": ["telegram_id"]}]
    out_ref = register["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    out_schema = schemas[out_ref.split("/")[-1]]
    assert {option["$ref"].split("/")[-1] for option in out_schema["anyOf"]} == {"RegisterOut", "TelegramSignupOut"}
    assert {"TelegramSignupOut", "TelegramSignupData", "SignupTokens"} <= set(schemas)


def test_session_method_fits_the_column() -> None:
    assert session_method("partner-bot") == "service:partner-bot"
    assert len(session_method("x" * 64)) == 32


async def test_confirm_with_a_first_mini_app_credential_does_not_wait_on_itself(
    client: Client, clock: ManualClock
) -> None:
    # A `tma` credential the guard has not seen makes its user in a writing unit of its own; the route's unit
    # opens only after that, else SQLite's writer queue would wait on itself and answer 503 after the timeout.
    path = f"{API}/auth/telegram/confirm"
    payload = encode({"code": "not-a-code", "chat_id": 10_004})
    headers = {**signed_headers(clock, path, payload), **tma(init_data(clock))}
    response = await post(client, path, payload, headers)
    assert response.status == 422, await response.text()
    assert (await response.json())["error_code"] == "INVALID_CODE"
