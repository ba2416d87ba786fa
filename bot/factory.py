"""Builds the aiogram objects. Nothing is created at import; run.py and the tests call these."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aiogram import Bot, Dispatcher, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.utils.i18n import I18n
from redis.asyncio import ConnectionPool, Redis

from bot.middlewares.access import AccessMiddleware, FloodMiddleware, LevelMiddleware, handler_features
from bot.middlewares.database import UnitOfWorkMiddleware
from bot.middlewares.dedup import UpdateDedupMiddleware
from bot.middlewares.errors import ErrorsMiddleware
from bot.middlewares.i18n import UserLocaleMiddleware
from bot.middlewares.inflight import InFlightTracker
from bot.middlewares.user import UserMiddleware
from bot.routers import fallback_router, feature_routers
from core.access.policy import AccessConfig, check_features
from core.container import Container


def create_bot(token: str, api_base_url: str | None = None) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_base_url)) if api_base_url else AiohttpSession()
    return Bot(token, session=session)


def create_i18n(path: Path, *, default_locale: str, domain: str) -> I18n:
    return I18n(path=path, default_locale=default_locale, domain=domain)


def create_fsm_storage(pool: ConnectionPool | None, *, key_prefix: str) -> BaseStorage:
    """On the process's shared Redis pool when there is one, else in memory."""
    if pool is not None:
        return RedisStorage(Redis(connection_pool=pool), key_builder=DefaultKeyBuilder(prefix=f"{key_prefix}fsm"))
    return MemoryStorage()


@dataclass(frozen=True, slots=True)
class BotRuntime:
    dispatcher: Dispatcher
    inflight: InFlightTracker


def create_dispatcher(
    *,
    container: Container,
    i18n: I18n,
    fsm_storage: BaseStorage,
    bot_id: int,
    processing_ttl: float,
    extra_routers: Sequence[Router] = (),
) -> BotRuntime:
    dispatcher = Dispatcher(storage=fsm_storage)
    # Handlers receive these by name; nothing global is looked up.
    dispatcher["container"] = container
    dispatcher["clock"] = container.clock

    inflight = InFlightTracker()
    # Outer update middlewares run in this order; the error guard wraps everything after it, so a failed
    # handler's transaction is rolled back before the apology is sent.
    dispatcher.update.outer_middleware(inflight)
    dispatcher.update.outer_middleware(
        UpdateDedupMiddleware(container.kv, bot_id=bot_id, processing_ttl=processing_ttl)
    )
    dispatcher.update.outer_middleware(ErrorsMiddleware(i18n))
    dispatcher.update.outer_middleware(UserMiddleware(container))
    dispatcher.update.outer_middleware(UserLocaleMiddleware(i18n))
    dispatcher.update.outer_middleware(AccessMiddleware())
    dispatcher.update.outer_middleware(FloodMiddleware(container))
    # The level a handler's `access` flag names, then the handler's own unit of work, read-only unless the chosen
    # handler is flagged as writing.
    levels = LevelMiddleware(container)
    units = UnitOfWorkMiddleware(container)
    for name, observer in dispatcher.observers.items():
        if name not in ("update", "error"):
            observer.middleware(levels)
            observer.middleware(units)

    dispatcher.include_routers(*feature_routers(), *extra_routers, fallback_router())
    check_features(handler_features(dispatcher), container.config(AccessConfig))
    return BotRuntime(dispatcher=dispatcher, inflight=inflight)
