"""The Bot API side of the fake: the methods a bot calls and the HTTP handler in front of them."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from .formatting import MAX_TEXT_LENGTH, EntityParseError, format_text, strip_text
from .params import ApiError, Params, bad_request, read_request_params
from .state import (
    STATE_KEY,
    BotState,
    ChatState,
    FakeTelegramState,
    JsonDict,
    StoredMessage,
    WebhookConfig,
    unix_now,
    wait_for,
)

log = logging.getLogger(__name__)

TOKEN_RE = re.compile(r"^(\d+):[A-Za-z0-9_-]{10,}$")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_LANGUAGE_RE = re.compile(r"^[a-z]{2}$")

_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same "
    "as a current content and reply markup of the message"
)
_QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"
_WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)
_POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
)

_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_SCOPE_TYPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)
_MENU_BUTTON_TYPES = frozenset({"default", "commands", "web_app"})


@dataclass
class CallContext:
    state: FakeTelegramState
    bot: BotState
    params: Params


Handler = Callable[[CallContext], Awaitable[Any]]
METHODS: dict[str, Handler] = {}


def _method(name: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        METHODS[name.lower()] = handler
        return handler

    return register


async def call_method(state: FakeTelegramState, bot: BotState, method: str, raw: Mapping[str, Any]) -> Any:
    """Run one Bot API method; raises ApiError carrying Telegram's error code and description."""
    handler = METHODS.get(method.lower())
    try:
        if handler is None:
            raise ApiError(404, "Not Found: method not found")
        result = await handler(CallContext(state, bot, Params(raw)))
    except ApiError as error:
        bot.record_call(method, error.description)
        raise
    bot.record_call(method, None)
    return result


def telegram_error(error_code: int, description: str) -> web.Response:
    return web.json_response(
        {"ok": False, "error_code": error_code, "description": description}, status=error_code
    )


async def handle_bot_api(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    token_match = TOKEN_RE.match(request.match_info["token"])
    if token_match is None:
        return telegram_error(401, "Unauthorized")
    bot = state.bot(int(token_match.group(1)))
    bot.api_seen = True
    try:
        raw = await read_request_params(request)
        result = await call_method(state, bot, request.match_info["method"], raw)
    except ApiError as error:
        return telegram_error(error.error_code, error.description)
    return web.json_response({"ok": True, "result": result})


# validation helpers


def _check_url(url: Any, error: str, *, schemes: tuple[str, ...] = ("http", "https", "tg")) -> str:
    # Plain http is accepted everywhere (unlike Telegram) because local bots and Mini Apps rarely have TLS.
    if not isinstance(url, str):
        raise bad_request(error)
    parts = urlsplit(url)
    if parts.scheme not in schemes or not (parts.netloc or parts.scheme == "tg"):
        raise bad_request(error)
    return url


def _check_inline_button(button: Any) -> None:
    if not isinstance(button, dict):
        raise bad_request("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
    text = button.get("text")
    if not isinstance(text, str) or not text.strip():
        raise bad_request("can't parse inline keyboard button: Text must be non-empty")
    actions = [action for action in _BUTTON_ACTIONS if action in button]
    if not actions:
        raise bad_request("text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        raise bad_request("can't parse inline keyboard button: only one button action can be specified")
    action = actions[0]
    if action == "callback_data":
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode()) <= 64:
            raise bad_request("BUTTON_DATA_INVALID")
    elif action == "url":
        _check_url(button["url"], "BUTTON_URL_INVALID")
    elif action == "web_app":
        web_app = button["web_app"]
        url = web_app.get("url") if isinstance(web_app, dict) else None
        _check_url(url, "BUTTON_URL_INVALID")


def _check_reply_markup(markup: Any, *, inline_only: bool) -> JsonDict | None:
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("object expected as reply markup")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request("field \"inline_keyboard\" must be an Array of Arrays")
        for row in rows:
            for button in row:
                _check_inline_button(button)
        return markup
    if inline_only:
        raise bad_request("inline keyboard expected")
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request("field \"keyboard\" must be an Array of Arrays")
        for row in rows:
            for button in row:
                text = button.get("text") if isinstance(button, dict) else button
                if not isinstance(text, str) or not text:
                    raise bad_request("keyboard button text must be non-empty")
        return markup
    if markup.get("remove_keyboard") is True or markup.get("force_reply") is True:
        return markup
    raise bad_request("can't parse reply keyboard markup JSON object")


def _find_chat(bot: BotState, chat_id: int) -> ChatState:
    chat = bot.chats.get(chat_id)
    if chat is None:
        raise bad_request("chat not found")
    return chat


def _message_text(params: Params) -> tuple[str, list[JsonDict]]:
    raw_text = params.string("text")
    if raw_text is None:
        raise bad_request("message text is empty")
    entities = params.json_list("entities", what="message entities")
    try:
        if entities is not None:
            text = raw_text
        else:
            text, entities = format_text(raw_text, params.string("parse_mode"))
    except EntityParseError as error:
        raise bad_request(f"can't parse entities: {error}") from None
    except ValueError:
        raise bad_request("unsupported parse_mode") from None
    text, entities = strip_text(text, entities)
    if not text:
        raise bad_request("message text is empty")
    if len(text) > MAX_TEXT_LENGTH:
        raise bad_request("message is too long")
    return text, entities


def _editable_message(ctx: CallContext) -> tuple[ChatState, StoredMessage]:
    if ctx.params.has("inline_message_id"):
        # The fake has no inline mode, so no inline message can exist.
        raise bad_request("MESSAGE_ID_INVALID")
    chat = _find_chat(ctx.bot, _require_chat_id(ctx.params))
    message_id = ctx.params.require_integer("message_id", "message identifier is not specified")
    message = chat.messages.get(message_id)
    if message is None:
        raise bad_request("message to edit not found")
    if not message.from_bot:
        raise bad_request("message can't be edited")
    return chat, message


def _require_chat_id(params: Params) -> int:
    chat_id = params.chat_id()
    assert chat_id is not None
    return chat_id


def _scope_key(params: Params) -> tuple[JsonDict, str]:
    scope = params.json_object("scope", what="BotCommandScope") or {"type": "default"}
    scope_type = scope.get("type")
    if scope_type not in _SCOPE_TYPES:
        raise bad_request("can't parse BotCommandScope JSON object")
    canonical: JsonDict = {"type": scope_type}
    if scope_type in ("chat", "chat_administrators", "chat_member"):
        chat_id = Params(scope).chat_id()
        canonical["chat_id"] = chat_id
    if scope_type == "chat_member":
        canonical["user_id"] = Params(scope).require_integer("user_id", "user not found")
    language_code = params.string("language_code") or ""
    if language_code and not _LANGUAGE_RE.match(language_code):
        raise bad_request("LANG_CODE_INVALID")
    return canonical, language_code


def _scope_id(scope: JsonDict) -> str:
    return json.dumps(scope, sort_keys=True)


def _check_commands(commands: list[Any]) -> list[JsonDict]:
    if len(commands) > 100:
        raise bad_request("BOT_COMMANDS_TOO_MUCH")
    checked: list[JsonDict] = []
    for command in commands:
        if not isinstance(command, dict):
            raise bad_request("can't parse BotCommand JSON object")
        name = command.get("command")
        description = command.get("description")
        if not isinstance(name, str) or not _COMMAND_RE.match(name):
            raise bad_request("BOT_COMMAND_INVALID")
        if not isinstance(description, str) or not 1 <= len(description) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        checked.append({"command": name, "description": description})
    return checked


def _check_menu_button(button: JsonDict) -> JsonDict:
    button_type = button.get("type")
    if button_type not in _MENU_BUTTON_TYPES:
        raise bad_request("can't parse menu button JSON object")
    if button_type != "web_app":
        return {"type": button_type}
    text = button.get("text")
    if not isinstance(text, str) or not text:
        raise bad_request("menu button text must be non-empty")
    web_app = button.get("web_app")
    url = _check_url(web_app.get("url") if isinstance(web_app, dict) else None, "BUTTON_URL_INVALID")
    return {"type": "web_app", "text": text, "web_app": {"url": url}}


# identity and lifecycle


@_method("getMe")
async def get_me(ctx: CallContext) -> JsonDict:
    return ctx.bot.me_json()


@_method("close")
async def close(ctx: CallContext) -> bool:
    return True


@_method("logOut")
async def log_out(ctx: CallContext) -> bool:
    return True


# updates and webhooks


@_method("getUpdates")
async def get_updates(ctx: CallContext) -> list[JsonDict]:
    bot, params = ctx.bot, ctx.params
    if bot.webhook is not None:
        raise ApiError(409, _WEBHOOK_CONFLICT)
    offset = params.integer("offset") or 0
    limit = min(max(params.integer("limit") or 100, 1), 100)
    timeout = min(max(params.integer("timeout") or 0, 0), 50)
    allowed = params.json_list("allowed_updates", what="allowed updates")
    if allowed is not None:
        bot.allowed_updates = [str(kind) for kind in allowed]
    bot.confirm(offset)
    # A newer getUpdates call ends an older one still waiting, as on Telegram.
    bot.poll_generation += 1
    generation = bot.poll_generation
    bot.updates_changed.notify()

    batch: list[JsonDict] = []
    conflict: str | None = None

    def ready() -> bool:
        nonlocal batch, conflict
        if bot.webhook is not None:
            conflict = _WEBHOOK_CONFLICT
        elif bot.poll_generation != generation:
            conflict = _POLL_CONFLICT
        else:
            batch = bot.take(limit)
        return conflict is not None or bool(batch)

    await wait_for(bot.updates_changed, ready, timeout, ctx.state.is_closing)
    if conflict is not None:
        raise ApiError(409, conflict)
    return batch


@_method("setWebhook")
async def set_webhook(ctx: CallContext) -> bool:
    bot, params = ctx.bot, ctx.params
    url = params.string("url") or ""
    secret_token = params.string("secret_token")
    max_connections = params.integer("max_connections")
    allowed = params.json_list("allowed_updates", what="allowed updates")
    if url:
        _check_url(url, "bad webhook: invalid webhook URL specified", schemes=("http", "https"))
    if secret_token is not None and not _SECRET_RE.match(secret_token):
        raise bad_request("bad webhook: secret token contains unallowed characters")
    if max_connections is not None and not 1 <= max_connections <= 100:
        raise bad_request("bad webhook: max_connections must be between 1 and 100")
    if params.boolean("drop_pending_updates"):
        bot.drop_pending()
    if allowed is not None:
        bot.allowed_updates = [str(kind) for kind in allowed]
    bot.webhook = WebhookConfig(url=url, secret_token=secret_token, max_connections=max_connections) if url else None
    bot.updates_changed.notify()
    await ctx.state.restart_delivery(bot)
    return True


@_method("deleteWebhook")
async def delete_webhook(ctx: CallContext) -> bool:
    bot = ctx.bot
    if ctx.params.boolean("drop_pending_updates"):
        bot.drop_pending()
    bot.webhook = None
    bot.updates_changed.notify()
    await ctx.state.stop_delivery(bot)
    return True


@_method("getWebhookInfo")
async def get_webhook_info(ctx: CallContext) -> JsonDict:
    return ctx.bot.webhook_info()


# messages


@_method("sendMessage")
async def send_message(ctx: CallContext) -> JsonDict:
    bot, params = ctx.bot, ctx.params
    chat = _find_chat(bot, _require_chat_id(params))
    text, entities = _message_text(params)
    markup = _check_reply_markup(params.json_value("reply_markup", what="reply keyboard markup"), inline_only=False)
    link_preview = params.json_object("link_preview_options", what="link preview options")

    reply_to: int | None = None
    allow_without_reply = params.boolean("allow_sending_without_reply")
    reply_parameters = params.json_object("reply_parameters", what="reply parameters")
    if reply_parameters is not None:
        reply_params = Params(reply_parameters)
        reply_to = reply_params.require_integer("message_id", "message to be replied not found")
        allow_without_reply = reply_params.boolean("allow_sending_without_reply")
    elif params.has("reply_to_message_id"):
        reply_to = params.integer("reply_to_message_id")
    if reply_to is not None and reply_to not in chat.messages:
        if not allow_without_reply:
            raise bad_request("message to be replied not found")
        reply_to = None

    message = StoredMessage(
        message_id=bot.new_message_id(),
        chat_id=chat.user["id"],
        from_bot=True,
        sender=bot.user_json(),
        text=text,
        date=unix_now(),
        entities=entities,
        reply_markup=markup,
        link_preview_options=link_preview,
        reply_to_message_id=reply_to,
    )
    chat.messages[message.message_id] = message
    bot.chat_changed(chat)
    return bot.message_json(message)


async def _send_media(ctx: CallContext, kind: str) -> JsonDict:
    bot, params = ctx.bot, ctx.params
    chat = _find_chat(bot, _require_chat_id(params))
    upload = params.upload(kind)
    caption = params.string("caption") or ""
    if len(caption) > 1024:
        raise bad_request("message caption is too long")
    if kind == "photo" and not upload.data.startswith((b"\x89PNG", b"\xff\xd8")):
        raise bad_request("IMAGE_PROCESS_FAILED")
    markup = _check_reply_markup(params.json_value("reply_markup", what="reply keyboard markup"), inline_only=False)
    message = StoredMessage(
        message_id=bot.new_message_id(),
        chat_id=chat.user["id"],
        from_bot=True,
        sender=bot.user_json(),
        text=caption,
        date=unix_now(),
        reply_markup=markup,
        media={"type": kind, "file_name": upload.filename, "mime_type": upload.content_type, "data": upload.data},
    )
    chat.messages[message.message_id] = message
    bot.chat_changed(chat)
    return bot.message_json(message)


@_method("sendPhoto")
async def send_photo(ctx: CallContext) -> JsonDict:
    return await _send_media(ctx, "photo")


@_method("sendDocument")
async def send_document(ctx: CallContext) -> JsonDict:
    return await _send_media(ctx, "document")


@_method("editMessageText")
async def edit_message_text(ctx: CallContext) -> JsonDict:
    chat, message = _editable_message(ctx)
    text, entities = _message_text(ctx.params)
    markup = _check_reply_markup(
        ctx.params.json_value("reply_markup", what="reply keyboard markup"), inline_only=True
    )
    if (text, entities, markup) == (message.text, message.entities, message.reply_markup):
        raise bad_request(_NOT_MODIFIED)
    link_preview = ctx.params.json_object("link_preview_options", what="link preview options")
    message.text, message.entities = text, entities
    # Telegram drops the inline keyboard when an edit does not repeat it.
    message.reply_markup = markup
    if link_preview is not None:
        message.link_preview_options = link_preview
    message.edit_date = unix_now()
    ctx.bot.chat_changed(chat)
    return ctx.bot.message_json(message)


@_method("editMessageReplyMarkup")
async def edit_message_reply_markup(ctx: CallContext) -> JsonDict:
    chat, message = _editable_message(ctx)
    markup = _check_reply_markup(
        ctx.params.json_value("reply_markup", what="reply keyboard markup"), inline_only=True
    )
    if markup == message.reply_markup:
        raise bad_request(_NOT_MODIFIED)
    message.reply_markup = markup
    message.edit_date = unix_now()
    ctx.bot.chat_changed(chat)
    return ctx.bot.message_json(message)


@_method("deleteMessage")
async def delete_message(ctx: CallContext) -> bool:
    chat = _find_chat(ctx.bot, _require_chat_id(ctx.params))
    message_id = ctx.params.require_integer("message_id", "message identifier is not specified")
    if chat.messages.pop(message_id, None) is None:
        raise bad_request("message to delete not found")
    ctx.bot.chat_changed(chat)
    return True


@_method("sendChatAction")
async def send_chat_action(ctx: CallContext) -> bool:
    _find_chat(ctx.bot, _require_chat_id(ctx.params))
    ctx.params.require_string("action", "action is empty")
    return True


@_method("answerCallbackQuery")
async def answer_callback_query(ctx: CallContext) -> bool:
    params = ctx.params
    query_id = params.string("callback_query_id")
    record = ctx.bot.callbacks.get(query_id or "")
    if record is None or record.answer is not None:
        raise bad_request(_QUERY_INVALID)
    url = params.string("url")
    if url is not None:
        _check_url(url, "URL_INVALID")
    record.answer = {
        "text": params.string("text"),
        "show_alert": params.boolean("show_alert"),
        "url": url,
        "cache_time": params.integer("cache_time") or 0,
        "answered_date": unix_now(),
    }
    ctx.bot.callbacks_changed.notify()
    return True


# commands, menu button and bot texts


@_method("setMyCommands")
async def set_my_commands(ctx: CallContext) -> bool:
    commands = ctx.params.json_list("commands", what="BotCommand")
    if commands is None:
        raise bad_request("commands is empty")
    checked = _check_commands(commands)
    scope, language_code = _scope_key(ctx.params)
    key = (_scope_id(scope), language_code)
    if checked:
        ctx.bot.commands[key] = (scope, checked)
    else:
        ctx.bot.commands.pop(key, None)
    return True


@_method("getMyCommands")
async def get_my_commands(ctx: CallContext) -> list[JsonDict]:
    scope, language_code = _scope_key(ctx.params)
    _, commands = ctx.bot.commands.get((_scope_id(scope), language_code), (scope, []))
    return [dict(command) for command in commands]


@_method("deleteMyCommands")
async def delete_my_commands(ctx: CallContext) -> bool:
    scope, language_code = _scope_key(ctx.params)
    ctx.bot.commands.pop((_scope_id(scope), language_code), None)
    return True


@_method("setChatMenuButton")
async def set_chat_menu_button(ctx: CallContext) -> bool:
    chat_id = ctx.params.chat_id(required=False)
    raw = ctx.params.json_object("menu_button", what="menu button")
    button = _check_menu_button(raw or {"type": "default"})
    if chat_id is None:
        ctx.bot.default_menu_button = button
        return True
    _find_chat(ctx.bot, chat_id)
    if button["type"] == "default":
        ctx.bot.chat_menu_buttons.pop(chat_id, None)
    else:
        ctx.bot.chat_menu_buttons[chat_id] = button
    return True


@_method("getChatMenuButton")
async def get_chat_menu_button(ctx: CallContext) -> JsonDict:
    chat_id = ctx.params.chat_id(required=False)
    if chat_id is None:
        return dict(ctx.bot.default_menu_button)
    _find_chat(ctx.bot, chat_id)
    return dict(ctx.bot.chat_menu_buttons.get(chat_id, ctx.bot.default_menu_button))


def _bot_text_methods(kind: str, field: str, max_length: int) -> None:
    """setMyX/getMyX pairs that store one string per language code."""
    suffix = "".join(part.capitalize() for part in kind.split("_"))

    async def setter(ctx: CallContext) -> bool:
        value = ctx.params.string(field) or ""
        if len(value) > max_length:
            raise bad_request(f"{field} is too long")
        language_code = ctx.params.string("language_code") or ""
        if value:
            ctx.bot.bot_texts[(kind, language_code)] = value
        else:
            ctx.bot.bot_texts.pop((kind, language_code), None)
        return True

    async def getter(ctx: CallContext) -> JsonDict:
        language_code = ctx.params.string("language_code") or ""
        texts = ctx.bot.bot_texts
        fallback = ctx.bot.first_name if kind == "name" else ""
        return {field: texts.get((kind, language_code), texts.get((kind, ""), fallback))}

    _method(f"setMy{suffix}")(setter)
    _method(f"getMy{suffix}")(getter)


_bot_text_methods("description", "description", 512)
_bot_text_methods("short_description", "short_description", 120)
_bot_text_methods("name", "name", 64)
