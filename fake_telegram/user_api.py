"""The user side of the fake: what a person (or a test) does in a chat with a bot."""

from __future__ import annotations

import base64
import re
from typing import Annotated, Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .formatting import MAX_TEXT_LENGTH, strip_text, utf16_len
from .state import (
    STATE_KEY,
    BotState,
    CallbackRecord,
    FakeTelegramState,
    JsonDict,
    StoredMessage,
    unix_now,
    wait_for,
)

MAX_WAIT_SECONDS = 30.0

ModelT = TypeVar("ModelT", bound=BaseModel)

# A command starts the text or follows whitespace, and may name the bot after an "@".
_COMMAND_RE = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_@])")


class UserError(Exception):
    def __init__(self, status: int, error_code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.error_code = error_code
        self.detail = detail


def user_error_response(status: int, error_code: str, detail: str) -> web.Response:
    return web.json_response({"detail": detail, "error_code": error_code}, status=status)


class UserIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: Annotated[int, Field(gt=0, lt=2**52)]
    first_name: Annotated[str, Field(min_length=1, max_length=64)]
    last_name: Annotated[str | None, Field(max_length=64)] = None
    username: Annotated[str | None, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{3,31}$")] = None
    language_code: Annotated[str | None, Field(max_length=35)] = None

    def as_telegram(self) -> JsonDict:
        user: JsonDict = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            value = getattr(self, key)
            if value:
                user[key] = value
        return user


class MessageIn(BaseModel):
    user: UserIn
    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT_LENGTH)]

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text must not be blank")
        return value


class CallbackIn(BaseModel):
    user: UserIn
    message_id: Annotated[int, Field(gt=0)]
    data: str

    @field_validator("data")
    @classmethod
    def _data_size(cls, value: str) -> str:
        if not 1 <= len(value.encode()) <= 64:
            raise ValueError("data must be 1-64 bytes")
        return value


class RedeliverIn(BaseModel):
    update_id: Annotated[int, Field(gt=0)]


async def _body(request: web.Request, model: type[ModelT]) -> ModelT:
    try:
        data: Any = await request.json()
    except ValueError:
        raise UserError(400, "invalid_json", "request body must be a JSON object") from None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in issue['loc']) or 'body'}: {issue['msg']}"
            for issue in error.errors()
        )
        raise UserError(422, "validation_error", problems) from None


def _state(request: web.Request) -> FakeTelegramState:
    return request.app[STATE_KEY]


def _bot(request: web.Request) -> BotState:
    return _state(request).bot(int(request.match_info["bot_id"]))


def _number(request: web.Request, name: str, default: float, *, low: float, high: float) -> float:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise UserError(400, "invalid_query", f"{name} must be a number") from None
    if not low <= value <= high:
        raise UserError(400, "invalid_query", f"{name} must be between {low:g} and {high:g}")
    return value


def _command_entities(text: str) -> list[JsonDict]:
    return [
        {"type": "bot_command", "offset": utf16_len(text[: found.start()]), "length": utf16_len(found.group())}
        for found in _COMMAND_RE.finditer(text)
    ]


def user_message_json(message: StoredMessage) -> JsonDict:
    return {
        "message_id": message.message_id,
        "from_bot": message.from_bot,
        "text": message.text,
        "entities": message.entities,
        "reply_markup": message.reply_markup,
        "edited": message.edit_date is not None,
        "date": message.date,
        "edit_date": message.edit_date,
        "reply_to_message_id": message.reply_to_message_id,
        # A photo or a document: its type, name, MIME type and the bytes as base64, for tests to read.
        "media": None
        if message.media is None
        else {
            "type": message.media["type"],
            "file_name": message.media.get("file_name"),
            "mime_type": message.media.get("mime_type"),
            "data": base64.b64encode(message.media["data"]).decode(),
        },
    }


def _answer_json(record: CallbackRecord) -> JsonDict:
    return {
        "callback_query_id": record.callback_query_id,
        "chat_id": record.chat_id,
        "message_id": record.message_id,
        "data": record.data,
        **(record.answer or {}),
    }


def _commands_json(bot: BotState) -> list[JsonDict]:
    return [
        {"scope": scope, "language_code": language_code, "commands": commands}
        for (_, language_code), (scope, commands) in sorted(bot.commands.items())
    ]


# handlers


async def list_bots(request: web.Request) -> web.Response:
    bots = [bot.summary() for bot in sorted(_state(request).bots.values(), key=lambda b: b.bot_id) if bot.api_seen]
    return web.json_response({"bots": bots})


async def post_message(request: web.Request) -> web.Response:
    bot = _bot(request)
    body = await _body(request, MessageIn)
    user = body.user.as_telegram()
    text, _ = strip_text(body.text, [])
    chat = bot.touch_chat(user)
    message = StoredMessage(
        message_id=bot.new_message_id(),
        chat_id=user["id"],
        from_bot=False,
        sender=user,
        text=text,
        date=unix_now(),
        entities=_command_entities(text),
    )
    chat.messages[message.message_id] = message
    bot.chat_changed(chat)
    update = bot.queue_update({"message": bot.message_json(message)})
    return web.json_response({"update_id": update["update_id"], "message_id": message.message_id})


async def post_callback(request: web.Request) -> web.Response:
    bot = _bot(request)
    body = await _body(request, CallbackIn)
    user = body.user.as_telegram()
    chat = bot.chats.get(user["id"])
    message = chat.messages.get(body.message_id) if chat is not None else None
    if chat is None or message is None or not message.from_bot:
        raise UserError(404, "message_not_found", f"the bot sent no message {body.message_id} to user {user['id']}")
    bot.touch_chat(user)
    record = CallbackRecord(
        callback_query_id=bot.new_callback_id(),
        chat_id=user["id"],
        message_id=message.message_id,
        data=body.data,
        date=unix_now(),
    )
    bot.callbacks[record.callback_query_id] = record
    update = bot.queue_update(
        {
            "callback_query": {
                "id": record.callback_query_id,
                "from": user,
                "message": bot.message_json(message),
                # Stable per chat, as Telegram's is, so bots may use it to group presses.
                "chat_instance": str((bot.bot_id * 1_000_003 + user["id"]) % 2**63),
                "data": body.data,
            }
        }
    )
    return web.json_response({"update_id": update["update_id"], "callback_query_id": record.callback_query_id})


async def get_chat_messages(request: web.Request) -> web.Response:
    state, bot = _state(request), _bot(request)
    chat_id = int(request.match_info["chat_id"])
    after_id = int(_number(request, "after_id", 0, low=0, high=2**52))
    wait = _number(request, "wait", 0, low=0, high=MAX_WAIT_SECONDS)
    since_version = request.query.get("since_version")
    version_floor = int(_number(request, "since_version", 0, low=0, high=2**52)) if since_version else None

    def ready() -> bool:
        chat = bot.chats.get(chat_id)
        if chat is None:
            return False
        if version_floor is not None:
            return chat.version > version_floor
        return any(m.from_bot and m.message_id > after_id for m in chat.messages.values())

    if wait > 0:
        await wait_for(bot.chats_changed, ready, wait, state.is_closing)
    chat = bot.chats.get(chat_id)
    messages = [] if chat is None else [m for m in chat.messages.values() if m.message_id > after_id]
    return web.json_response(
        {"messages": [user_message_json(m) for m in messages], "version": 0 if chat is None else chat.version}
    )


async def get_callback_answers(request: web.Request) -> web.Response:
    state, bot = _state(request), _bot(request)
    query_id = request.query.get("callback_query_id")
    wait = _number(request, "wait", 0, low=0, high=MAX_WAIT_SECONDS)

    def answered() -> list[CallbackRecord]:
        return [
            record
            for record in bot.callbacks.values()
            if record.answer is not None and (query_id is None or record.callback_query_id == query_id)
        ]

    if wait > 0 and query_id is not None:
        await wait_for(bot.callbacks_changed, lambda: bool(answered()), wait, state.is_closing)
    return web.json_response({"answers": [_answer_json(record) for record in answered()]})


async def post_redeliver(request: web.Request) -> web.Response:
    bot = _bot(request)
    body = await _body(request, RedeliverIn)
    update = bot.redeliver(body.update_id)
    if update is None:
        raise UserError(404, "update_not_found", f"no update {body.update_id} was ever queued for this bot")
    return web.json_response({"update_id": update["update_id"], "pending_update_count": len(bot.pending)})


async def get_state(request: web.Request) -> web.Response:
    bot = _bot(request)
    webhook = bot.webhook_info()
    webhook["secret_token"] = bot.webhook.secret_token if bot.webhook else None
    return web.json_response(
        {
            "bot": bot.me_json(),
            "commands": _commands_json(bot),
            "menu_button": {
                "default": bot.default_menu_button,
                "chats": {str(chat_id): button for chat_id, button in bot.chat_menu_buttons.items()},
            },
            "webhook": webhook,
            "pending_update_count": len(bot.pending),
            "allowed_updates": bot.allowed_updates,
            "texts": [
                {"kind": kind, "language_code": language_code, "value": value}
                for (kind, language_code), value in sorted(bot.bot_texts.items())
            ],
            "chats": sorted(bot.chats),
        }
    )


async def get_calls(request: web.Request) -> web.Response:
    return web.json_response({"calls": list(_bot(request).calls)})


def add_user_api_routes(app: web.Application) -> None:
    prefix = r"/user-api/bots/{bot_id:\d{1,15}}"
    app.router.add_get("/user-api/bots", list_bots)
    app.router.add_post(f"{prefix}/messages", post_message)
    app.router.add_post(f"{prefix}/callbacks", post_callback)
    app.router.add_get(rf"{prefix}/chats/{{chat_id:-?\d{{1,15}}}}/messages", get_chat_messages)
    app.router.add_get(f"{prefix}/callback-answers", get_callback_answers)
    app.router.add_post(f"{prefix}/redeliver", post_redeliver)
    app.router.add_get(f"{prefix}/state", get_state)
    app.router.add_get(f"{prefix}/calls", get_calls)
