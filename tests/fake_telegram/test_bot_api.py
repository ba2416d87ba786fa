from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramNotFound,
    TelegramUnauthorizedError,
)
from aiogram.filters import CommandStart
from aiogram.methods import TelegramMethod
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MenuButtonWebApp,
    Message,
    WebAppInfo,
)

from fake_telegram import FakeTelegram, UserClient

from .conftest import ALICE, BORIS, BOT_ID, TOKEN, make_bot


class UnknownMethod(TelegramMethod[bool]):
    __returning__ = bool
    __api_method__ = "definitelyNotAMethod"


def keyboard(*buttons: InlineKeyboardButton) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[list(buttons)])


async def raw_call(fake: FakeTelegram, method: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.post(
        f"{fake.base_url}/bot{TOKEN}/{method}", **kwargs
    ) as response:
        body: dict[str, Any] = await response.json()
        return response.status, body


async def test_get_me_describes_the_bot(bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == BOT_ID
    assert me.is_bot is True
    assert me.first_name == "Local Bot"
    assert me.username == f"local_{BOT_ID}_bot"
    assert me.supports_inline_queries is False


async def test_send_message_with_keyboard_is_visible_to_the_user(bot: Bot, users: UserClient) -> None:
    await users.send_text(ALICE, "hi")
    markup = keyboard(
        InlineKeyboardButton(text="Yes", callback_data="vote:yes"),
        InlineKeyboardButton(text="Docs", url="https://example.org/docs"),
        InlineKeyboardButton(text="Open", web_app=WebAppInfo(url="http://127.0.0.1:9/app")),
    )
    sent = await bot.send_message(ALICE["id"], "Vote?", reply_markup=markup)

    assert sent.chat.id == ALICE["id"]
    assert sent.chat.type == "private"
    assert sent.from_user is not None
    assert sent.from_user.id == BOT_ID
    assert sent.reply_markup is not None
    assert sent.reply_markup.model_dump() == markup.model_dump()

    seen = await users.wait_for_bot_message(ALICE["id"])
    assert seen["message_id"] == sent.message_id
    assert seen["text"] == "Vote?"
    assert seen["edited"] is False
    buttons = seen["reply_markup"]["inline_keyboard"][0]
    assert [b["text"] for b in buttons] == ["Yes", "Docs", "Open"]
    assert buttons[0]["callback_data"] == "vote:yes"
    assert buttons[2]["web_app"] == {"url": "http://127.0.0.1:9/app"}


async def test_html_is_turned_into_entities(bot: Bot, users: UserClient) -> None:
    await users.send_text(ALICE, "hi")
    html = "  <b>Bold</b> &amp; <a href='https://x.org'>link</a>  "
    sent = await bot.send_message(ALICE["id"], html, parse_mode="HTML")
    assert sent.text == "Bold & link"
    assert sent.entities is not None
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [("bold", 0, 4), ("text_link", 7, 4)]
    assert sent.entities[1].url == "https://x.org"


async def test_broken_html_is_rejected_like_telegram(bot: Bot, users: UserClient) -> None:
    await users.send_text(ALICE, "hi")
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(ALICE["id"], "<b>open", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="can't parse entities: Character '!' is reserved"):
        await bot.send_message(ALICE["id"], "Hello!", parse_mode="MarkdownV2")


async def test_send_message_errors(bot: Bot, users: UserClient) -> None:
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(777, "nobody has talked to the bot here")
    await users.send_text(ALICE, "hi")
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(ALICE["id"], "   ")


async def test_edit_message_text(bot: Bot, users: UserClient) -> None:
    await users.send_text(ALICE, "hi")
    sent = await bot.send_message(
        ALICE["id"], "Step 1", reply_markup=keyboard(InlineKeyboardButton(text="Next", callback_data="n"))
    )
    edited = await bot.edit_message_text(
        "Step 2",
        chat_id=ALICE["id"],
        message_id=sent.message_id,
        reply_markup=keyboard(InlineKeyboardButton(text="Done", callback_data="d")),
    )
    assert isinstance(edited, Message)
    assert edited.text == "Step 2"
    assert edited.edit_date is not None

    [seen] = await users.messages(ALICE["id"], after_id=sent.message_id - 1)
    assert seen["text"] == "Step 2"
    assert seen["edited"] is True
    assert seen["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "d"

    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            "Step 2",
            chat_id=ALICE["id"],
            message_id=sent.message_id,
            reply_markup=keyboard(InlineKeyboardButton(text="Done", callback_data="d")),
        )
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=ALICE["id"], message_id=9999)

    # Leaving reply_markup out of an edit removes the keyboard, as on Telegram.
    plain = await bot.edit_message_text("Finished", chat_id=ALICE["id"], message_id=sent.message_id)
    assert isinstance(plain, Message)
    assert plain.reply_markup is None


async def test_answer_callback_query(bot: Bot, users: UserClient) -> None:
    await users.send_text(ALICE, "hi")
    markup = keyboard(InlineKeyboardButton(text="A", callback_data="a"))
    sent = await bot.send_message(ALICE["id"], "Pick", reply_markup=markup)
    pressed = await users.press(ALICE, sent.message_id, "a")

    updates = await bot.get_updates(offset=pressed["update_id"], timeout=1)
    assert [u.update_id for u in updates] == [pressed["update_id"]]
    query = updates[0].callback_query
    assert query is not None
    assert query.id == pressed["callback_query_id"]
    assert query.data == "a"
    assert query.from_user.id == ALICE["id"]
    assert isinstance(query.message, Message)
    assert query.message.message_id == sent.message_id

    assert await bot.answer_callback_query(query.id, text="Noted", show_alert=True) is True
    [answer] = await users.callback_answers(query.id)
    assert answer["text"] == "Noted"
    assert answer["show_alert"] is True
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query.id)


async def test_commands_per_language_are_visible_in_state(bot: Bot, users: UserClient) -> None:
    await bot.set_my_commands([BotCommand(command="start", description="Start")])
    await bot.set_my_commands([BotCommand(command="start", description="Начать")], language_code="ru")
    await users.send_text(ALICE, "hi")
    await bot.set_my_commands(
        [BotCommand(command="admin", description="Admin tools")], scope=BotCommandScopeChat(chat_id=ALICE["id"])
    )

    state = await users.state()
    by_key = {(c["scope"]["type"], c["language_code"]): c["commands"] for c in state["commands"]}
    assert by_key[("default", "")] == [{"command": "start", "description": "Start"}]
    assert by_key[("default", "ru")] == [{"command": "start", "description": "Начать"}]
    assert by_key[("chat", "")] == [{"command": "admin", "description": "Admin tools"}]

    ru = await bot.get_my_commands(language_code="ru")
    assert [c.description for c in ru] == ["Начать"]
    assert await bot.get_my_commands(language_code="de") == []
    assert await bot.delete_my_commands(language_code="ru") is True
    assert await bot.get_my_commands(language_code="ru") == []

    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad Command", description="x")])


async def test_menu_button(bot: Bot, users: UserClient) -> None:
    button = MenuButtonWebApp(text="Open app", web_app=WebAppInfo(url="http://127.0.0.1:9/app"))
    assert await bot.set_chat_menu_button(menu_button=button) is True
    assert (await bot.get_chat_menu_button()).model_dump() == button.model_dump()
    state = await users.state()
    assert state["menu_button"]["default"]["web_app"]["url"] == "http://127.0.0.1:9/app"


async def test_get_updates_long_poll_and_offset(bot: Bot, users: UserClient) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await bot.get_updates(timeout=1) == []
    assert loop.time() - started >= 0.9

    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    sent = await users.send_text(BORIS, "/start ref_42")
    started = loop.time()
    updates = await poll
    assert loop.time() - started < 1.0
    [update] = updates
    assert update.update_id == sent["update_id"]
    assert update.message is not None
    assert update.message.text == "/start ref_42"
    assert update.message.chat.id == BORIS["id"]
    assert update.message.from_user is not None
    assert update.message.from_user.language_code == "ru"
    assert update.message.entities is not None
    assert (update.message.entities[0].type, update.message.entities[0].length) == ("bot_command", 6)

    # Without a new offset the same update comes back; the offset confirms it.
    again = await bot.get_updates(timeout=0)
    assert [u.update_id for u in again] == [sent["update_id"]]
    assert await bot.get_updates(offset=sent["update_id"] + 1, timeout=0) == []
    assert (await users.state())["pending_update_count"] == 0


async def test_negative_offset_keeps_only_the_latest(bot: Bot, users: UserClient) -> None:
    ids = [(await users.send_text(ALICE, f"m{i}"))["update_id"] for i in range(3)]
    updates = await bot.get_updates(offset=-1)
    assert [u.update_id for u in updates] == ids[-1:]


async def test_second_poller_terminates_the_first(fake: FakeTelegram, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    second = asyncio.create_task(bot.get_updates(timeout=0))
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await first
    assert await second == []


async def test_redelivered_update_reaches_a_polling_bot(bot: Bot, users: UserClient) -> None:
    sent = await users.send_text(ALICE, "once")
    [first] = await bot.get_updates()
    assert await bot.get_updates(offset=first.update_id + 1) == []

    # The redelivered update is queued behind a newer one, although the bot's offset is already past it.
    later = await users.send_text(ALICE, "later")
    await users.redeliver(sent["update_id"])
    updates = await bot.get_updates(offset=first.update_id + 1, timeout=1)
    # A batch ends before the older id, so confirming "last id + 1" cannot skip anything.
    assert [u.update_id for u in updates] == [later["update_id"]]
    redelivered = await bot.get_updates(offset=later["update_id"] + 1, timeout=1)
    assert [u.update_id for u in redelivered] == [sent["update_id"]]
    assert redelivered[0].message is not None
    assert redelivered[0].message.text == "once"
    assert await bot.get_updates(offset=sent["update_id"] + 1) == []
    assert (await users.state())["pending_update_count"] == 0


async def test_unknown_method_is_not_found(bot: Bot) -> None:
    with pytest.raises(TelegramNotFound, match="method not found"):
        await bot(UnknownMethod())


async def test_bad_token_is_unauthorized(fake: FakeTelegram) -> None:
    stranger = make_bot(fake, token="123:short")
    try:
        with pytest.raises(TelegramUnauthorizedError, match="Unauthorized"):
            await stranger.get_me()
    finally:
        await stranger.session.close()


async def test_each_bot_has_its_own_state(fake: FakeTelegram, bot: Bot, users: UserClient) -> None:
    other = make_bot(fake, token="999:BBBBBBBBBBBBBBBB")
    try:
        await users.send_text(ALICE, "hi")
        assert [u.update_id for u in await bot.get_updates()] != []
        assert await other.get_updates() == []
        assert (await other.get_me()).id == 999
    finally:
        await other.session.close()
    listed = await users.bots()
    assert sorted(b["id"] for b in listed) == [999, BOT_ID]


async def test_parameters_in_every_encoding(fake: FakeTelegram, users: UserClient) -> None:
    await users.send_text(ALICE, "hi")
    markup = '{"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}'

    form = aiohttp.FormData({"chat_id": str(ALICE["id"]), "text": "multipart", "reply_markup": markup})
    form._is_multipart = True  # aiogram switches to multipart when a request carries files
    status, body = await raw_call(fake, "SENDMESSAGE", data=form)
    assert status == 200
    assert body["ok"] is True
    assert body["result"]["reply_markup"]["inline_keyboard"][0][0]["text"] == "A"

    status, body = await raw_call(fake, "sendMessage", data={"chat_id": str(ALICE["id"]), "text": "urlencoded"})
    assert (status, body["result"]["text"]) == (200, "urlencoded")

    status, body = await raw_call(
        fake, "sendMessage", json={"chat_id": ALICE["id"], "text": "json", "unknown_extra": {"x": 1}}
    )
    assert (status, body["result"]["text"]) == (200, "json")

    async with aiohttp.ClientSession() as session, session.get(
        f"{fake.base_url}/bot{TOKEN}/sendMessage", params={"chat_id": str(ALICE["id"]), "text": "query"}
    ) as response:
        assert (await response.json())["result"]["text"] == "query"

    status, body = await raw_call(fake, "sendMessage", json={"chat_id": ALICE["id"], "text": "x", "reply_markup": "{"})
    assert status == 400
    assert body == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: can't parse reply keyboard markup JSON object",
    }

    status, body = await raw_call(fake, "sendMessage", data=b"not json", headers={"Content-Type": "application/json"})
    assert status == 400
    assert body["ok"] is False


async def test_dispatcher_polling_end_to_end(fake: FakeTelegram, bot: Bot, users: UserClient) -> None:
    dispatcher = Dispatcher()

    @dispatcher.message(CommandStart())
    async def start(message: Message) -> None:
        await message.answer(f"Welcome, {message.from_user.first_name if message.from_user else '?'}")

    polling = asyncio.create_task(
        dispatcher.start_polling(bot, polling_timeout=1, handle_signals=False, close_bot_session=False)
    )
    try:
        sent = await users.send_text(ALICE, "/start")
        reply = await users.wait_for_bot_message(ALICE["id"], after_id=sent["message_id"], timeout=5)
        assert reply["text"] == "Welcome, Alice"
    finally:
        await dispatcher.stop_polling()
        await polling
