"""The webhook route through a real server on 127.0.0.1, with a real Dispatcher and Bot (never called here).

Telegram redelivers every update that gets no 2xx answer, so an update aiogram cannot validate must be logged and
answered 200 instead of blocking the webhook."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot, Dispatcher, Router
from aiogram.types import Message
from aiohttp import web
from pytest_aiohttp import AiohttpClient

from core.clock import ManualClock
from core.settings import LOCAL_BOT_TOKEN
from storage.kv import MemoryStore
from tests.helpers.app import Client, make_container
from webserver.app import create_app
from webserver.keys import WebConfig
from webserver.routes.telegram_webhook import SecretWebhookHandler, register_webhook

PATH = "/telegram/webhook"
DIRECT_PATH = "/telegram/direct"
SECRET = "Webhook_secret-" + "x" * 30
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
LOGGER = "webserver.routes.telegram_webhook"
# Text only people would write: it must never reach a log line.
CONTENT = "PRIVATE-CONTENT-7f3a"
USER = {"id": 4242, "is_bot": False, "first_name": "Alice"}
CHAT = {"id": 4242, "type": "private", "first_name": "Alice"}


def message(text: str) -> dict[str, Any]:
    return {"message_id": 1, "date": 1_700_000_000, "chat": CHAT, "from": USER, "text": text}


# Bot API 7.x polls: their options had no persistent_id, and polls no allows_revoting or members_only.
OLD_POLL = {
    "id": "5000000000000000001",
    "question": CONTENT,
    "options": [{"text": CONTENT, "voter_count": 1}, {"text": "no", "voter_count": 0}],
    "total_voter_count": 1,
    "is_closed": False,
    "is_anonymous": True,
    "type": "regular",
    "allows_multiple_answers": False,
}


@dataclass
class Webhook:
    client: Client
    handled: list[str] = field(default_factory=list)


@pytest.fixture
async def webhook(tmp_path: Path, aiohttp_client: AiohttpClient) -> AsyncIterator[Webhook]:
    clock = ManualClock()
    container = await make_container(tmp_path, MemoryStore(), clock)
    bot = Bot(LOCAL_BOT_TOKEN)
    handled: list[str] = []
    router = Router()

    @router.message()
    async def record(incoming: Message) -> None:
        if incoming.text == "boom":
            raise RuntimeError("handler failed")
        handled.append(incoming.text or "")

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    hook = SecretWebhookHandler(dispatcher, bot, secret_token=SECRET)

    def routes(app: web.Application) -> None:
        register_webhook(app, PATH, hook)
        app.router.add_post(DIRECT_PATH, call_the_handler_object)

    async def call_the_handler_object(request: web.Request) -> web.StreamResponse:
        # Calling the handler object (as aiogram's examples route it) must run the same checks as handle().
        return await hook(request)

    app = create_app(
        container=container,
        config=WebConfig(version="9.9.9", mode="webhook", max_body_bytes=64 * 1024),
        extra_setup=routes,
    )
    yield Webhook(await aiohttp_client(app), handled)
    await bot.session.close()
    await container.close()
    await container.db.dispose()


async def post(webhook: Webhook, body: str, headers: dict[str, str] | None = None, path: str = PATH) -> tuple[int, Any]:
    response = await webhook.client.post(
        path, data=body, headers={"Content-Type": "application/json", **(HEADERS if headers is None else headers)}
    )
    return response.status, await response.json()


def skipped_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == LOGGER and record.levelno == logging.WARNING]


@pytest.mark.parametrize(
    ("update", "update_id"),
    [
        pytest.param({"message": message(CONTENT)}, None, id="no-update-id"),
        pytest.param({"update_id": 11, "message": {"text": CONTENT, "chat": CHAT}}, 11, id="message-missing-fields"),
        pytest.param([], None, id="empty-list"),
        pytest.param(None, None, id="null"),
        pytest.param(42, None, id="number"),
        pytest.param({"update_id": 12, "poll": OLD_POLL}, 12, id="old-poll"),
        pytest.param(
            {"update_id": 13, "poll_answer": {"poll_id": "5000000000000000001", "user": USER, "option_ids": [0]}},
            13,
            id="poll-answer-without-persistent-ids",
        ),
    ],
)
async def test_an_update_aiogram_cannot_validate_is_logged_once_and_answered_200(
    webhook: Webhook, caplog: pytest.LogCaptureFixture, update: Any, update_id: int | None
) -> None:
    caplog.set_level(logging.INFO)
    status, body = await post(webhook, json.dumps(update))
    assert status == 200
    assert body == {}
    assert webhook.handled == []
    warnings = skipped_warnings(caplog)
    assert len(warnings) == 1
    assert getattr(warnings[0], "update_id", None) == update_id
    if update_id is not None:
        assert f"update {update_id}," in warnings[0].getMessage()
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert CONTENT not in caplog.text
    assert all(CONTENT not in repr(vars(record)) for record in caplog.records)


async def test_the_warning_names_the_refused_fields(webhook: Webhook, caplog: pytest.LogCaptureFixture) -> None:
    status, _ = await post(webhook, json.dumps({"update_id": 13, "poll_answer": {"poll_id": "1", "user": USER}}))
    assert status == 200
    (warning,) = skipped_warnings(caplog)
    assert "poll_answer.option_ids: missing" in warning.getMessage()


async def test_a_valid_update_is_handled(webhook: Webhook, caplog: pytest.LogCaptureFixture) -> None:
    status, body = await post(webhook, json.dumps({"update_id": 21, "message": message("hello")}))
    assert status == 200
    assert body == {}
    assert webhook.handled == ["hello"]
    assert skipped_warnings(caplog) == []


async def test_malformed_json_is_400_in_the_error_shape(webhook: Webhook) -> None:
    status, body = await post(webhook, '{"update_id": 1,')
    assert status == 400
    assert body["error_code"] == "MALFORMED_JSON"
    assert set(body) >= {"detail", "error_code", "timestamp"}
    assert webhook.handled == []


@pytest.mark.parametrize("headers", [{"X-Telegram-Bot-Api-Secret-Token": SECRET[:-1] + "y"}, {}])
async def test_a_wrong_or_missing_secret_is_401(webhook: Webhook, headers: dict[str, str]) -> None:
    status, body = await post(webhook, json.dumps({"update_id": 22, "message": message("hello")}), headers)
    assert status == 401
    assert set(body) >= {"detail", "error_code", "timestamp"}
    assert webhook.handled == []


async def test_a_failing_handler_still_fails_the_request(webhook: Webhook, caplog: pytest.LogCaptureFixture) -> None:
    """A handler's own exception is not an invalid update: Telegram must see the failure and redeliver."""
    status, body = await post(webhook, json.dumps({"update_id": 23, "message": message("boom")}))
    assert status == 500
    assert set(body) >= {"detail", "error_code", "timestamp"}
    assert skipped_warnings(caplog) == []
    assert any(record.levelno == logging.ERROR and record.exc_info for record in caplog.records)


async def test_calling_the_handler_object_runs_the_same_checks(
    webhook: Webhook, caplog: pytest.LogCaptureFixture
) -> None:
    status, body = await post(webhook, "null", path=DIRECT_PATH)
    assert (status, body) == (200, {})
    assert len(skipped_warnings(caplog)) == 1
    status, body = await post(webhook, "null", {"X-Telegram-Bot-Api-Secret-Token": "wrong"}, path=DIRECT_PATH)
    assert status == 401
    assert set(body) >= {"detail", "error_code", "timestamp"}
