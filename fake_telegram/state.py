"""In-memory state of the fake Telegram: bots, private chats, update queues and webhooks."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, web

from .accounts import Accounts

JsonDict = dict[str, Any]

log = logging.getLogger(__name__)

BOT_FIRST_NAME = "Local Bot"

# Telegram leaves these out unless a bot asks for them explicitly.
_OPT_IN_UPDATE_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

CALL_LOG_SIZE = 200


def unix_now() -> int:
    return int(time.time())


class Notifier:
    """Wakes every waiter on the next change.

    A fresh Event per generation avoids the lost-wakeup problem without a lock: a waiter grabs the
    current event before checking its condition, so a change made after the check still wakes it.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def current(self) -> asyncio.Event:
        return self._event

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()


async def wait_for(
    notifier: Notifier, condition: Callable[[], bool], seconds: float, stopping: Callable[[], bool]
) -> bool:
    """Wait until condition() holds, `seconds` pass or the server stops; return condition()."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        event = notifier.current()
        if condition():
            return True
        remaining = deadline - loop.time()
        if remaining <= 0 or stopping():
            return False
        try:
            async with asyncio.timeout(remaining):
                await event.wait()
        except TimeoutError:
            return condition()


@dataclass
class StoredMessage:
    message_id: int
    chat_id: int
    from_bot: bool
    sender: JsonDict
    text: str
    date: int
    entities: list[JsonDict] = field(default_factory=list)
    reply_markup: JsonDict | None = None
    link_preview_options: JsonDict | None = None
    reply_to_message_id: int | None = None
    edit_date: int | None = None
    # A photo or a document: {"type", "file_name", "mime_type", "data"} (the bytes, kept for tests to read).
    media: dict[str, Any] | None = None


@dataclass
class ChatState:
    user: JsonDict
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    # Bumped on every change so that pollers can wait for edits and deletions, not only new messages.
    version: int = 0


@dataclass
class QueueEntry:
    update: JsonDict
    # A redelivered update has an old id; it must survive offsets that already passed that id until
    # the bot has actually been handed it once.
    protected: bool = False

    @property
    def update_id(self) -> int:
        return int(self.update["update_id"])

    @property
    def kind(self) -> str:
        return next((key for key in self.update if key != "update_id"), "")


@dataclass
class WebhookConfig:
    url: str
    secret_token: str | None = None
    max_connections: int | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class CallbackRecord:
    callback_query_id: str
    chat_id: int
    message_id: int
    data: str
    date: int
    answer: JsonDict | None = None


def bot_user(bot_id: int, first_name: str = BOT_FIRST_NAME) -> JsonDict:
    return {"id": bot_id, "is_bot": True, "first_name": first_name, "username": f"local_{bot_id}_bot"}


def private_chat(user: JsonDict) -> JsonDict:
    chat: JsonDict = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
    for key in ("last_name", "username"):
        if user.get(key):
            chat[key] = user[key]
    return chat


class BotState:
    """Everything the fake remembers about one bot (keyed by the numeric part of its token)."""

    def __init__(self, bot_id: int) -> None:
        self.bot_id = bot_id
        self.api_seen = False
        self.chats: dict[int, ChatState] = {}
        self.pending: list[QueueEntry] = []
        self.history: dict[int, JsonDict] = {}
        self.webhook: WebhookConfig | None = None
        self.allowed_updates: list[str] = []
        self.commands: dict[tuple[str, str], tuple[JsonDict, list[JsonDict]]] = {}
        self.default_menu_button: JsonDict = {"type": "default"}
        self.chat_menu_buttons: dict[int, JsonDict] = {}
        self.callbacks: dict[str, CallbackRecord] = {}
        self.bot_texts: dict[tuple[str, str], str] = {}
        self.calls: deque[JsonDict] = deque(maxlen=CALL_LOG_SIZE)
        self.poll_generation = 0
        self.updates_changed = Notifier()
        self.chats_changed = Notifier()
        self.callbacks_changed = Notifier()
        self._next_update_id = 1
        self._next_message_id = 1
        self._next_callback = 1

    # identity

    @property
    def first_name(self) -> str:
        return self.bot_texts.get(("name", ""), BOT_FIRST_NAME)

    def user_json(self) -> JsonDict:
        return bot_user(self.bot_id, self.first_name)

    def me_json(self) -> JsonDict:
        return {
            **self.user_json(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    # update queue

    def queue_update(self, payload: JsonDict) -> JsonDict:
        update = {"update_id": self._next_update_id, **payload}
        self._next_update_id += 1
        self.history[update["update_id"]] = update
        self.pending.append(QueueEntry(update))
        self.updates_changed.notify()
        return update

    def redeliver(self, update_id: int) -> JsonDict | None:
        update = self.history.get(update_id)
        if update is None:
            return None
        self.pending.append(QueueEntry(update, protected=True))
        self.updates_changed.notify()
        return update

    def drop_pending(self) -> None:
        self.pending.clear()
        self.updates_changed.notify()

    def confirm(self, offset: int) -> None:
        if offset > 0:
            self.pending = [e for e in self.pending if e.update_id >= offset or e.protected]
        elif offset < 0:
            self.pending = self.pending[offset:]

    def _allowed(self, entry: QueueEntry) -> bool:
        if self.allowed_updates:
            return entry.kind in self.allowed_updates
        return entry.kind not in _OPT_IN_UPDATE_TYPES

    def take(self, limit: int) -> list[JsonDict]:
        """Updates to hand to getUpdates, oldest first, without removing them."""
        self.pending = [e for e in self.pending if self._allowed(e)]
        batch: list[QueueEntry] = []
        for entry in self.pending[:limit]:
            # aiogram confirms with last id + 1, so a batch must end on its highest id or the
            # updates after a redelivered (older) one would be handed out twice.
            if batch and entry.update_id <= batch[-1].update_id:
                break
            batch.append(entry)
        for entry in batch:
            entry.protected = False
        return [entry.update for entry in batch]

    def next_for_webhook(self) -> QueueEntry | None:
        self.pending = [e for e in self.pending if self._allowed(e)]
        return self.pending[0] if self.pending else None

    def acknowledge(self, entry: QueueEntry) -> None:
        for index, candidate in enumerate(self.pending):
            if candidate is entry:
                del self.pending[index]
                break

    def webhook_info(self) -> JsonDict:
        info: JsonDict = {
            "url": self.webhook.url if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self.pending),
        }
        if self.webhook is not None:
            if self.webhook.last_error_date is not None:
                info["last_error_date"] = self.webhook.last_error_date
                info["last_error_message"] = self.webhook.last_error_message
            if self.webhook.max_connections is not None:
                info["max_connections"] = self.webhook.max_connections
            if self.allowed_updates:
                info["allowed_updates"] = list(self.allowed_updates)
        return info

    # chats and messages

    def touch_chat(self, user: JsonDict) -> ChatState:
        chat = self.chats.get(user["id"])
        if chat is None:
            chat = self.chats[user["id"]] = ChatState(user=user)
        else:
            chat.user = user
        return chat

    def chat_changed(self, chat: ChatState) -> None:
        chat.version += 1
        self.chats_changed.notify()

    def new_message_id(self) -> int:
        message_id = self._next_message_id
        self._next_message_id += 1
        return message_id

    def new_callback_id(self) -> str:
        callback_id = f"{self.bot_id}{self._next_callback:08d}"
        self._next_callback += 1
        return callback_id

    def message_json(self, message: StoredMessage, *, with_reply: bool = True) -> JsonDict:
        chat = self.chats[message.chat_id]
        result: JsonDict = {
            "message_id": message.message_id,
            "from": message.sender,
            "chat": private_chat(chat.user),
            "date": message.date,
        }
        if message.media is None:
            result["text"] = message.text
        else:
            result.update(media_json(message))
        if message.edit_date is not None:
            result["edit_date"] = message.edit_date
        if message.entities:
            result["entities"] = message.entities
        # A Message only ever carries inline keyboards; reply keyboards live on the client side.
        if message.reply_markup and "inline_keyboard" in message.reply_markup:
            result["reply_markup"] = message.reply_markup
        if message.link_preview_options:
            result["link_preview_options"] = message.link_preview_options
        if with_reply and message.reply_to_message_id is not None:
            original = chat.messages.get(message.reply_to_message_id)
            if original is not None:
                result["reply_to_message"] = self.message_json(original, with_reply=False)
        return result

    def record_call(self, method: str, error: str | None) -> None:
        self.calls.append({"method": method, "ok": error is None, "description": error, "date": unix_now()})

    def summary(self) -> JsonDict:
        return {
            "id": self.bot_id,
            "username": f"local_{self.bot_id}_bot",
            "first_name": self.first_name,
            "webhook_url": self.webhook.url if self.webhook else "",
            "pending_update_count": len(self.pending),
            "chats": sorted(self.chats),
        }


# One bot's webhook delivery, running until that bot's webhook changes. The server plugs it in together with its
# HTTP session; this module cannot import it, since delivery runs Bot API methods that build on this module.
DeliveryLoop = Callable[[BotState, WebhookConfig], Coroutine[Any, Any, None]]


class FakeTelegramState:
    """All bots served by one fake server, plus the webhook delivery tasks working for them."""

    def __init__(
        self,
        *,
        retry_initial: float = 0.1,
        retry_max: float = 2.0,
        delivery_timeout: float = 30.0,
    ) -> None:
        self.bots: dict[int, BotState] = {}
        # Telegram's user side: accounts, their sessions and their chats with each other.
        self.accounts = Accounts()
        self.closing = False
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.delivery_timeout = delivery_timeout
        self.delivery_loop: DeliveryLoop | None = None
        self._deliveries: dict[int, asyncio.Task[None]] = {}

    def bot(self, bot_id: int) -> BotState:
        state = self.bots.get(bot_id)
        if state is None:
            state = self.bots[bot_id] = BotState(bot_id)
        return state

    def is_closing(self) -> bool:
        return self.closing

    async def restart_delivery(self, bot: BotState) -> None:
        await self.stop_delivery(bot)
        if bot.webhook is None or self.delivery_loop is None or self.closing:
            return
        task = asyncio.create_task(self.delivery_loop(bot, bot.webhook), name=f"fake-telegram-webhook-{bot.bot_id}")
        self._deliveries[bot.bot_id] = task
        task.add_done_callback(lambda done: self._forget_delivery(bot.bot_id, done))

    def _forget_delivery(self, bot_id: int, task: asyncio.Task[None]) -> None:
        if self._deliveries.get(bot_id) is task:
            del self._deliveries[bot_id]
        if not task.cancelled() and task.exception() is not None:
            log.error("webhook delivery for bot %s crashed", bot_id, exc_info=task.exception())

    async def stop_delivery(self, bot: BotState) -> None:
        task = self._deliveries.pop(bot.bot_id, None)
        # A webhook reply can call setWebhook/deleteWebhook from inside the delivery task itself;
        # that task notices the changed config and ends on its own.
        if task is None or task is asyncio.current_task():
            return
        task.cancel()
        await asyncio.wait([task])

    async def shutdown(self) -> None:
        """Wake every long poll so that it answers at once, and stop all deliveries."""
        self.closing = True
        for bot in self.bots.values():
            bot.updates_changed.notify()
            bot.chats_changed.notify()
            bot.callbacks_changed.notify()
        tasks = [task for task in self._deliveries.values() if task is not asyncio.current_task()]
        self._deliveries.clear()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)


STATE_KEY = web.AppKey("fake_telegram_state", FakeTelegramState)
HTTP_SESSION_KEY = web.AppKey("fake_telegram_http_session", ClientSession)


def media_json(message: StoredMessage) -> JsonDict:
    """A photo or document message as the Bot API shows it: the file's ids and size, and the caption."""
    media = message.media or {}
    data: bytes = media.get("data", b"")
    file_id = f"file-{message.chat_id}-{message.message_id}"
    result: JsonDict = {}
    if media.get("type") == "photo":
        result["photo"] = [
            {"file_id": file_id, "file_unique_id": file_id, "width": 960, "height": 540, "file_size": len(data)}
        ]
    else:
        result["document"] = {
            "file_id": file_id,
            "file_unique_id": file_id,
            "file_name": media.get("file_name"),
            "mime_type": media.get("mime_type"),
            "file_size": len(data),
        }
    if message.text:
        result["caption"] = message.text
    return result
