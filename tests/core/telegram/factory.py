"""Shared test data: a bot token, a pinned clock and signed payloads built from explicit fields."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from core.clock import ManualClock
from core.telegram.initdata import init_data_user_json, sign_init_data
from core.telegram.user_data import TelegramUser

BOT_TOKEN = "7000000001:AAH-test-token-for-unit-tests_only"
OTHER_BOT_TOKEN = "7000000002:AAH-another-bot-token-for-tests"
BOT_ID = 7000000001
START = datetime(2031, 5, 17, 12, 0, tzinfo=UTC)
NOW = int(START.timestamp())

USER = TelegramUser(
    id=279058397,
    first_name="Vladislav & Co",
    last_name="Kibenko",
    username="vdkfrost",
    language_code="ru",
    is_premium=True,
    photo_url="https://t.me/i/userpic/320/abc.svg",
)


def clock() -> ManualClock:
    return ManualClock(START)


def init_fields(**overrides: str) -> dict[str, str]:
    fields = {
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": init_data_user_json(USER),
        "auth_date": str(NOW),
        "chat_type": "private",
        "chat_instance": "-8279429361728417853",
        "start_param": "ref_42",
    }
    fields.update(overrides)
    return fields


def signed_init_data(bot_token: str = BOT_TOKEN, **overrides: str) -> str:
    return sign_init_data(init_fields(**overrides), bot_token)


def user_json(**overrides: Any) -> str:
    body: dict[str, Any] = {"id": USER.id, "first_name": USER.first_name}
    body.update(overrides)
    return json.dumps(body, separators=(",", ":"))
