"""The access rule on the bot's side: the same domain function the REST routes call, answered in the person's
language.

* `AccessMiddleware` (outer, every update with a sender): an account that may not be served at all is refused.
* `LevelMiddleware` (inner, once the handler is chosen): a handler flagged `flags={"access": "<feature>"}` runs only
  for a user holding the level the feature needs, by the same `AccessConfig` the REST route flag uses.
* `FloodMiddleware` (outer): a per-user message rate limit on the limiter the REST routes use (shared across replicas
  with Redis); the first refused message gets one polite notice, refused ones within a window after it nothing.
  Repeated violations, and Telegram's own is_bot, flag the sender as a suspected bot (audited; only an admin clears
  it).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot, Router
from aiogram.dispatcher.flags import get_flag
from aiogram.types import CallbackQuery, Message, TelegramObject, Update
from aiogram.types import User as TgUser
from aiogram.utils.i18n import gettext as _

from bot.middlewares.user import profile_of
from core.access import policy
from core.access.service import AccessService
from core.container import Container
from core.errors import Forbidden
from core.users.dto import UserDTO
from core.users.service import UserService

log = logging.getLogger(__name__)

ACCESS = "access"


def refusal_text(refused: Forbidden) -> str:
    """The refusal in the person's language; every code the policy can give has its text here."""
    if refused.code == policy.ACCOUNT_DISABLED:
        return _("Your account is disabled. If you think this is a mistake, contact the support.")
    level = policy.missing_level(refused)
    if level is None:
        return _("This is not available to you.")
    return _("You do not have access to {level}.").format(level=level.display)


class AccessMiddleware(BaseMiddleware):
    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: UserDTO | None = data.get("user")
        if user is None:
            return await handler(event, data)
        refused = policy.refusal(user)
        if refused is None:
            return await handler(event, data)
        log.info("update refused", extra={"user_id": user.id, "reason": refused.code})
        if isinstance(event, Update):
            await _tell(event, data.get("bot"), refusal_text(refused))
        return None


def handler_features(router: Router) -> set[str]:
    """The features the `access` flags of every handler below `router` name."""
    found: set[str] = set()
    for name, observer in router.observers.items():
        if name in ("update", "error"):
            continue
        found |= {str(h.flags[ACCESS]) for h in observer.handlers if h.flags.get(ACCESS) is not None}
    for sub in router.sub_routers:
        found |= handler_features(sub)
    return found


class LevelMiddleware(BaseMiddleware):
    """Inner: reads the chosen handler's `access` flag, before its unit of work opens."""

    def __init__(self, container: Container) -> None:
        self._config = container.config(policy.AccessConfig)

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        feature = get_flag(data, ACCESS)
        user: UserDTO | None = data.get("user")
        if feature is None:
            return await handler(event, data)
        refused = policy.refusal(user, str(feature), config=self._config) if user is not None else None
        if user is None or refused is None:
            return await handler(event, data) if user is not None else None
        log.info("handler refused", extra={"user_id": user.id, "reason": refused.code})
        text = refusal_text(refused)
        if isinstance(event, Message):
            await event.answer(text)
        elif isinstance(event, CallbackQuery):
            await event.answer(text, show_alert=True)
        return None


class FloodMiddleware(BaseMiddleware):
    def __init__(self, container: Container) -> None:
        self._container = container
        self._config = container.config(policy.AccessConfig)

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        tg_user: TgUser | None = data.get("event_from_user")
        user: UserDTO | None = data.get("user")
        update_id = str(event.update_id) if isinstance(event, Update) else None
        if tg_user is not None and tg_user.is_bot:
            await self._flag_telegram_bot(tg_user, update_id)
            return None
        if user is None or not isinstance(event, Update) or event.message is None:
            return await handler(event, data)
        container = self._container
        result = await container.limiter.hit(policy.BOT_MESSAGES, f"user:{user.id}")
        if result.allowed:
            return await handler(event, data)
        window = container.limiter.tiers[policy.BOT_MESSAGES].window_seconds
        await self._count_violation(user, update_id, window)
        # Silent for a whole window after the notice: retry_after is only the wait for the next free slot (a second
        # or two once a flood reaches its second window), so a marker that short repeated the notice all flood long.
        if await container.kv.set_if_absent(f"bot-flood-notice:{user.id}", b"1", ttl=window):
            await _tell(event, data.get("bot"), _("You are sending messages too fast. Please wait a minute."))
        return None

    async def _count_violation(self, user: UserDTO, update_id: str | None, window: int) -> None:
        threshold = self._config.bot_suspect_after
        if threshold <= 0 or user.is_bot_suspected:
            return
        count = await self._container.kv.incr(f"bot-flood-count:{user.id}", ttl=window)
        if count == threshold:
            async with self._container.unit_of_work(write=True) as uow:
                await AccessService(uow).flag_bot_suspected(user.id, reason="rate_limit", request_id=update_id)
            log.warning("sender flagged as a suspected bot", extra={"user_id": user.id, "reason": "rate_limit"})

    async def _flag_telegram_bot(self, tg_user: TgUser, update_id: str | None) -> None:
        # Telegram says the sender is a bot: it is never served, and its account is flagged once.
        async with self._container.unit_of_work(write=False) as uow:
            known = await UserService(uow).find_telegram_user(tg_user.id)
        if known is not None and known.is_bot_suspected:
            return
        async with self._container.unit_of_work(write=True) as uow:
            user, _created = await UserService(uow).ensure_telegram_user(profile_of(tg_user))
            if not user.is_bot_suspected:
                await AccessService(uow).flag_bot_suspected(user.id, reason="telegram_is_bot", request_id=update_id)


async def _tell(update: Update, bot: Bot | None, text: str) -> None:
    if bot is None:
        return
    if isinstance(update.message, Message):
        await bot.send_message(update.message.chat.id, text)
    elif isinstance(update.callback_query, CallbackQuery):
        await bot.answer_callback_query(update.callback_query.id, text=text, show_alert=True)
