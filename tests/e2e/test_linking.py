"""Registering, linking and referrals through the bot, end to end: the stand-in, the real app, a real SQLite file.

Linking from a handler runs units of work of its own while the update's write transaction is open; on SQLite a
mistake there shows up as a reply that never comes or an apology after the busy timeout. Every wait is bounded, so
such a mistake fails a test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp

from core.container import Container
from core.identity.service import IdentityService, ReferralInfo
from fake_telegram import FakeUser, UserClient
from run import Runtime
from storage.repositories.users import UserRepository
from tests.e2e.conftest import StartRuntime, e2e_settings
from tests.helpers.chat import say

# Far above what a healthy run needs; below what a lock wait plus the busy timeout would take several times over.
TEST_TIMEOUT = 60
PASSWORD = "Blue-Heron-Lantern-42"
CHEAP_HASHING = {"argon2_memory_kib": 19456, "argon2_time_cost": 2, "argon2_parallelism": 1}
MINI_APP = "https://app.example.com/mini"

ANN: FakeUser = {"id": 5_200_000_001, "first_name": "Ann", "username": "ann_tg", "language_code": "en"}
BOB: FakeUser = {"id": 5_200_000_002, "first_name": "Bob", "language_code": "en"}
CAROL: FakeUser = {"id": 5_200_000_003, "first_name": "Carol", "language_code": "en"}
DAN: FakeUser = {"id": 5_200_000_004, "first_name": "Dan", "language_code": "en"}
ERIN: FakeUser = {"id": 5_200_000_005, "first_name": "Erin", "language_code": "en"}
IVAN: FakeUser = {"id": 5_200_000_006, "first_name": "Иван", "language_code": "ru"}

INVALID = "This link is invalid, already used or expired."


@dataclass
class Stand:
    runtime: Runtime
    chat: UserClient
    http: aiohttp.ClientSession

    @property
    def api(self) -> str:
        return f"{self.runtime.web_url}/api/v1"

    @property
    def container(self) -> Container:
        assert self.runtime.container is not None
        return self.runtime.container

    async def referral_info(self, user_id: int) -> ReferralInfo:
        async with self.container.unit_of_work(write=False) as uow:
            return await IdentityService(uow).referral_info(user_id)


@asynccontextmanager
async def stand(start_runtime: StartRuntime, tmp_path: Path, **sections: dict[str, Any]) -> AsyncIterator[Stand]:
    runtime = await start_runtime(e2e_settings(tmp_path, auth=CHEAP_HASHING, **sections))
    assert runtime.fake_telegram is not None
    assert runtime.bot is not None
    async with (
        asyncio.timeout(TEST_TIMEOUT),
        UserClient(runtime.fake_telegram.base_url, runtime.bot.id) as chat,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http,
    ):
        yield Stand(runtime=runtime, chat=chat, http=http)


async def register_email(s: Stand, email: str) -> dict[str, Any]:
    async with s.http.post(f"{s.api}/auth/register", json={"email": email, "password": PASSWORD}) as response:
        body: dict[str, Any] = await response.json()
        assert response.status == 200, body
    return body


async def me(s: Stand, token: str) -> dict[str, Any]:
    async with s.http.get(f"{s.api}/users/me", headers={"Authorization": f"Bearer {token}"}) as response:
        body: dict[str, Any] = await response.json()
        assert response.status == 200, body
    return body


async def confirm_on_link_page(s: Stand, code: str, email: str) -> str | None:
    """What the link page posts when the person signs in there: None when linked, else the error code."""
    payload = {"code": code, "login": email, "password": PASSWORD}
    async with s.http.post(f"{s.api}/auth/link/confirm", json=payload) as response:
        if response.status == 200:
            return None
        body: dict[str, Any] = await response.json()
        return str(body["error_code"]).lower()


async def account_link_code(s: Stand, token: str) -> str:
    """What a signed-in account asks for to link a Telegram account through a start link."""
    headers = {"Authorization": f"Bearer {token}"}
    async with s.http.post(f"{s.api}/auth/telegram/link-code", headers=headers) as response:
        body: dict[str, Any] = await response.json()
        assert response.status == 201, body
    link = body["link"]
    assert isinstance(link, str)
    assert link.endswith(f"start=link_{body['code']}")
    return str(body["code"])


async def user_id_of(s: Stand, telegram_id: int) -> int:
    async with s.container.unit_of_work(write=False) as uow:
        user = await UserRepository(uow.session).by_telegram_id(telegram_id)
        assert user is not None
        return int(user.id)


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    markup = message.get("reply_markup") or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]


def link_page_code(message: dict[str, Any]) -> str:
    urls = [str(button["url"]) for button in buttons(message) if "url" in button]
    assert len(urls) == 1, message
    assert urls[0] in message["text"]
    url = urlsplit(urls[0])
    assert url.path == "/link"
    return str(parse_qs(url.query)["code"][0])


async def test_register_says_created_then_existing_and_offers_linking(
    tmp_path: Path, start_runtime: StartRuntime
) -> None:
    async with stand(start_runtime, tmp_path, bot={"menu_button_url": MINI_APP}) as s:
        first = await say(s.chat, ANN, "/register")
        assert "Your account has been created." in first["text"]
        offered = buttons(first)
        assert [b["web_app"]["url"] for b in offered if "web_app" in b] == [MINI_APP]
        link_button = next(b for b in offered if "callback_data" in b)
        assert link_button["text"] == "Link an email account"

        again = await say(s.chat, ANN, "/register")
        assert "You already have an account" in again["text"]

        pressed = await s.chat.press(ANN, int(again["message_id"]), link_button["callback_data"])
        page = await s.chat.wait_for_bot_message(ANN["id"], after_id=int(again["message_id"]))
        assert "sign in with your email and password" in page["text"]
        assert "10 minutes" in page["text"]
        assert link_page_code(page)
        answers = await s.chat.callback_answers(pressed["callback_query_id"], wait=5)
        assert len(answers) == 1

        menu = await s.chat.state()
        english = next(entry["commands"] for entry in menu["commands"] if entry["language_code"] == "")
        assert {"register", "link", "profile"} <= {command["command"] for command in english}


async def test_register_without_mini_app_speaks_russian(tmp_path: Path, start_runtime: StartRuntime) -> None:
    async with stand(start_runtime, tmp_path) as s:
        reply = await say(s.chat, IVAN, "/register")
        assert "Ваш аккаунт создан." in reply["text"]
        assert [b["text"] for b in buttons(reply)] == ["Привязать аккаунт с почтой"]
        profile = await say(s.chat, IVAN, "/profile")
        assert "Почта: не привязана" in profile["text"]
        assert "Язык: Русский" in profile["text"]


async def test_link_through_the_web_page(tmp_path: Path, start_runtime: StartRuntime) -> None:
    async with stand(start_runtime, tmp_path) as s:
        await say(s.chat, ANN, "/start")
        bare_id = await user_id_of(s, ANN["id"])
        page = await say(s.chat, ANN, "/link")
        assert "Open this page and sign in with your email and password to link your accounts." in page["text"]
        code = link_page_code(page)
        async with s.http.get(f"{s.runtime.web_url}/link", params={"code": code}) as response:
            assert response.status == 200
            assert response.content_type == "text/html"

        account = await register_email(s, "ann@example.com")
        assert await confirm_on_link_page(s, code, "ann@example.com") is None

        profile = await say(s.chat, ANN, "/profile")
        assert "Telegram account: ✓ @ann_tg" in profile["text"]
        assert "Email: ✓ ann@example.com" in profile["text"]
        assert await user_id_of(s, ANN["id"]) == account["user_id"] != bare_id
        assert (await me(s, account["access_token"]))["telegram_id"] == ANN["id"]

        again = await say(s.chat, ANN, "/link")
        assert again["text"] == "Your Telegram account is already linked to ann@example.com."
        assert await confirm_on_link_page(s, code, "ann@example.com") == "invalid_code"


async def test_start_link_for_a_new_telegram_user(tmp_path: Path, start_runtime: StartRuntime) -> None:
    async with stand(start_runtime, tmp_path) as s:
        account = await register_email(s, "bob@example.com")
        code = await account_link_code(s, account["access_token"])

        # Bob's first message: the middleware creates his bare user in the same update that retires it.
        linked = await say(s.chat, BOB, f"/start link_{code}")
        assert linked["text"] == "Your Telegram account is now linked to bob@example.com."
        # Linking touched the account but did not revoke its tokens.
        assert (await me(s, account["access_token"]))["telegram_id"] == BOB["id"]
        assert await user_id_of(s, BOB["id"]) == account["user_id"]

        reused = await say(s.chat, BOB, f"/start link_{code}")
        assert reused["text"].startswith(INVALID)
        stranger = await say(s.chat, CAROL, f"/start link_{code}")
        assert stranger["text"].startswith(INVALID)
        assert await user_id_of(s, CAROL["id"]) != account["user_id"]
        made_up = await say(s.chat, CAROL, "/start link_" + "x" * 22)
        assert made_up["text"].startswith(INVALID)

        # Both keep working afterwards: nothing was left locked or half-written.
        profile = await say(s.chat, BOB, "/profile")
        assert "Email: ✓ bob@example.com" in profile["text"]
        assert "Telegram account: ✓ ID 5200000002" in profile["text"]


async def test_linking_conflicts_merge_nothing(tmp_path: Path, start_runtime: StartRuntime) -> None:
    async with stand(start_runtime, tmp_path) as s:
        first = await register_email(s, "a@example.com")
        second = await register_email(s, "b@example.com")
        code_a = await account_link_code(s, first["access_token"])
        # Asked for before Dan linked; the route gives no code to an account that already has Telegram.
        spare_a = await account_link_code(s, first["access_token"])
        linked = await say(s.chat, DAN, f"/start link_{code_a}")
        assert linked["text"] == "Your Telegram account is now linked to a@example.com."

        code_b = await account_link_code(s, second["access_token"])
        taken = await say(s.chat, DAN, f"/start link_{code_b}")
        assert taken["text"] == "This Telegram account already belongs to another account. Unlink it there first."
        assert (await me(s, second["access_token"]))["telegram_id"] is None
        assert (await me(s, first["access_token"]))["telegram_id"] == DAN["id"]

        other = await say(s.chat, ERIN, f"/start link_{spare_a}")
        assert other["text"] == "That account is already linked to another Telegram account."
        assert (await me(s, first["access_token"]))["telegram_id"] == DAN["id"]
        assert await user_id_of(s, ERIN["id"]) not in (first["user_id"], second["user_id"])


async def test_referral_through_start_link(tmp_path: Path, start_runtime: StartRuntime) -> None:
    async with stand(start_runtime, tmp_path) as s:
        # A first message that reads the account back: it must see the user this very update created.
        profile = await say(s.chat, ANN, "/profile")
        assert "People you invited: 0" in profile["text"]
        assert "Email: not linked" in profile["text"]
        match = re.search(r"start=(ref_[A-Za-z0-9_-]+)", profile["text"])
        assert match is not None, profile["text"]
        payload = match[1]
        ann_id = await user_id_of(s, ANN["id"])
        assert (await s.referral_info(ann_id)).code == payload.removeprefix("ref_")

        joined = await say(s.chat, BOB, f"/start {payload}")
        assert "Welcome, Bob! Your account is ready." in joined["text"]
        assert "You joined through an invitation." in joined["text"]
        bob_id = await user_id_of(s, BOB["id"])
        assert (await s.referral_info(ann_id)).count == 1
        assert (await s.referral_info(bob_id)).referred_by_id == ann_id

        repeat = await say(s.chat, BOB, f"/start {payload}")
        assert "Welcome back, Bob!" in repeat["text"]
        assert "invitation" not in repeat["text"]
        own = await say(s.chat, ANN, f"/start {payload}")
        assert "invitation" not in own["text"]
        assert (await s.referral_info(ann_id)).count == 1
        assert (await s.referral_info(ann_id)).referred_by_id is None

        # Someone who already talked to the bot does not get a referrer later.
        await say(s.chat, CAROL, "/start")
        late = await say(s.chat, CAROL, f"/start {payload}")
        assert "invitation" not in late["text"]
        assert (await s.referral_info(ann_id)).count == 1

        counted = await say(s.chat, ANN, "/profile")
        assert "People you invited: 1" in counted["text"]
