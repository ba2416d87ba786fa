"""The real app (run.serve) with one extra slow command, for the graceful-shutdown tests.

Usage: python -m tests.e2e.slow_app SECONDS   (settings come from the environment, as in production)
"""

from __future__ import annotations

import asyncio
import sys

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message

from core.container import UnitOfWork
from core.logging import setup_logging
from core.settings import load_settings
from core.users.dto import UserDTO
from core.users.service import UserService
from run import serve


def slow_router(seconds: float) -> Router:
    router = Router(name="slow-test")

    # Flagged as writing, so the bot opens the handler's unit of work for writes.
    @router.message(Command("slow"), flags={"writes": True})
    async def slow(message: Message, uow: UnitOfWork, user: UserDTO) -> None:
        await message.answer("slow: started")
        await asyncio.sleep(seconds)
        # A write inside the same unit of work: it must be committed, not lost, when the process stops.
        await UserService(uow).set_language(user.id, "ru")
        await message.answer("slow: finished")

    return router


def main() -> int:
    settings = load_settings(None, env_file=None)
    setup_logging(settings.logging.level, settings.logging.format)
    return asyncio.run(serve(settings, extra_routers=[slow_router(float(sys.argv[1]))]))


if __name__ == "__main__":
    sys.exit(main())
