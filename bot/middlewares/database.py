"""The handler's unit of work: read-only unless the handler says it writes (`flags={"writes": True}`), so that
/help or /profile never takes SQLite's write lock. Committed when the handler returns, rolled back when it fails.

Registered as an inner middleware on the dispatcher's observers: it runs once the handler is chosen, which is
what lets it read the handler's flags, and it reaches every feature router below the dispatcher. A reading
handler whose service finds it must write (first use) is run again, whole, in a writing unit (`Container.run`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.dispatcher.flags import get_flag
from aiogram.types import TelegramObject

from core.container import Container, UnitOfWork

WRITES = "writes"


class UnitOfWorkMiddleware(BaseMiddleware):
    def __init__(self, container: Container) -> None:
        self._container = container

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        write = bool(get_flag(data, WRITES, default=False))

        async def work(uow: UnitOfWork) -> Any:
            uow.language = data.get("locale")
            data["uow"] = uow
            return await handler(event, data)

        return await self._container.run(work, write=write)
