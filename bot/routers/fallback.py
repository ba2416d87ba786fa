"""What no feature understood: a short hint instead of silence. Included last, so every feature sees a message
before this does."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _


def create_router() -> Router:
    router = Router(name="fallback")
    router.message.filter(F.chat.type == "private")
    router.message.register(unknown_command, F.text.startswith("/"))
    router.message.register(not_understood)
    return router


async def unknown_command(message: Message) -> None:
    await message.answer(_("I do not know this command. Send /help to see what I can do."))


async def not_understood(message: Message) -> None:
    await message.answer(_("I did not understand that. Send /help to see what I can do."))
