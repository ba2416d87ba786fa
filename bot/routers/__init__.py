"""One router per feature; `feature_routers` is the single list the dispatcher includes."""

from __future__ import annotations

from aiogram import Router

from bot.routers import account, common, language


def feature_routers() -> list[Router]:
    return [common.create_router(), language.create_router(), account.create_router()]
