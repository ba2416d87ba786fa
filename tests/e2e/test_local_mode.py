"""The whole app in local mode: the embedded stand-in, aiogram's real HTTP session, a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from fake_telegram import FakeUser, UserClient
from tests.e2e.conftest import StartRuntime, e2e_settings
from tests.helpers.chat import say, wait_for_edit

ANN: FakeUser = {"id": 5_100_000_001, "first_name": "Ann", "language_code": "en"}
IVAN: FakeUser = {"id": 5_100_000_002, "first_name": "Иван", "language_code": "ru-RU"}


async def test_start_language_and_restart(tmp_path: Path, start_runtime: StartRuntime) -> None:
    runtime = await start_runtime(e2e_settings(tmp_path))
    assert runtime.fake_telegram is not None
    assert runtime.bot is not None
    async with UserClient(runtime.fake_telegram.base_url, runtime.bot.id) as client:
        english = await say(client, ANN, "/start")
        assert "Welcome, Ann! Your account is ready." in english["text"]
        russian = await say(client, IVAN, "/start")
        assert "Добро пожаловать, Иван!" in str(russian["text"])
        again = await say(client, ANN, "/start")
        assert "Welcome back, Ann!" in str(again["text"])

        menu = await say(client, ANN, "/language")
        assert menu["text"] == "Choose your language:"
        markup = menu["reply_markup"]
        assert isinstance(markup, dict)
        buttons = [button["callback_data"] for row in markup["inline_keyboard"] for button in row]
        assert buttons == ["lang:en", "lang:ru"]
        await client.press(ANN, int(menu["message_id"]), "lang:ru")
        edited = await wait_for_edit(client, ANN["id"], int(menu["message_id"]))
        assert edited["text"] == "Язык установлен: Русский"
        helped = await say(client, ANN, "/help")
        assert str(helped["text"]).startswith("Вот что я умею:")

        state = await client.state()
        by_language = {entry["language_code"]: entry["commands"] for entry in state["commands"]}
        assert by_language[""][0]["description"] == "Start or restart the bot"
        assert by_language["ru"][0]["description"] == "Запустить или перезапустить бота"

    await runtime.stop()

    # A new process on the same database keeps Ann's choice, although her Telegram language is English.
    second = await start_runtime(e2e_settings(tmp_path))
    assert second.fake_telegram is not None
    assert second.bot is not None
    async with UserClient(second.fake_telegram.base_url, second.bot.id) as client:
        helped = await say(client, ANN, "/help")
        assert str(helped["text"]).startswith("Вот что я умею:")
        back = await say(client, ANN, "/start")
        assert "С возвращением, Ann!" in str(back["text"])


async def test_health_and_unknown_update_kinds(tmp_path: Path, start_runtime: StartRuntime) -> None:
    runtime = await start_runtime(e2e_settings(tmp_path))
    async with aiohttp.ClientSession() as http, http.get(f"{runtime.web_url}/health") as response:
        assert response.status == 200
        body = await response.json()
    assert body["mode"] == "local"
    assert body["status"] == "healthy"


async def test_bad_start_payload_is_ignored(tmp_path: Path, start_runtime: StartRuntime) -> None:
    runtime = await start_runtime(e2e_settings(tmp_path))
    assert runtime.fake_telegram is not None
    assert runtime.bot is not None
    async with UserClient(runtime.fake_telegram.base_url, runtime.bot.id) as client:
        reply = await say(client, ANN, "/start <script>")
    assert "That start link is not valid" in str(reply["text"])
