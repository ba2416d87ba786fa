"""One router per feature; `feature_routers` is the single list the dispatcher includes."""

from __future__ import annotations

from aiogram import Router

from bot.routers import common, fallback, finance, identity, users


def feature_routers() -> list[Router]:
    return [common.create_router(), users.create_router(), identity.create_router(), finance.create_router()]


def fallback_router() -> Router:
    """Answers what no router took; the dispatcher includes it after every other router."""
    return fallback.create_router()
