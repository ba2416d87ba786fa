"""One router per feature; `feature_routers` is the single list the dispatcher includes."""

from __future__ import annotations

from aiogram import Router

from bot.routers import common, fallback, identity, users


def feature_routers() -> list[Router]:
    # The fallback answers what no feature took, so it comes last.
    return [common.create_router(), users.create_router(), identity.create_router(), fallback.create_router()]
