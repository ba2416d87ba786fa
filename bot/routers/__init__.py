"""One router per feature; `feature_routers` is the single list the dispatcher includes."""

from __future__ import annotations

from aiogram import Router

from bot.routers import access, common, fallback, finance, identity, profiles, rewards, users, wallet


def feature_routers() -> list[Router]:
    return [
        common.create_router(),
        users.create_router(),
        identity.create_router(),
        access.create_router(),
        rewards.create_router(),
        wallet.create_router(),
        profiles.create_router(),
        # Finance reads plain text (quick entry), so it comes after every feature with commands of its own.
        finance.create_router(),
    ]


def fallback_router() -> Router:
    """Answers what no router took; the dispatcher includes it after every other router."""
    return fallback.create_router()
