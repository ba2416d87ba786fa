"""One unit of work per update: handlers see a session and the services built on it; it commits when the
update was handled and rolls back when the handler failed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject

from core.services import ServiceFactory


class UnitOfWorkMiddleware(BaseMiddleware):
    def __init__(self, services: ServiceFactory) -> None:
        self._services = services

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        async with self._services.unit_of_work() as uow:
            data["uow"] = uow
            return await handler(event, data)
