"""Drops updates that were already handled, so a redelivery (webhook retry, restart before the offset was
confirmed) has no second effect. Works across replicas when the store is Redis."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update

from storage.kv import KeyValueStore, KeyValueUnavailable

log = logging.getLogger(__name__)

DONE_TTL = 24 * 3600


class UpdateDedupMiddleware(BaseMiddleware):
    def __init__(self, kv: KeyValueStore, *, bot_id: int, processing_ttl: float) -> None:
        self._kv = kv
        self._bot_id = bot_id
        # A claim that outlives a crashed process would drop the redelivery that should repair it.
        self._processing_ttl = processing_ttl

    def _key(self, update_id: int) -> str:
        return f"tg:update:{self._bot_id}:{update_id}"

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if not isinstance(event, Update):
            return await handler(event, data)
        key = self._key(event.update_id)
        try:
            claimed = await self._kv.set_if_absent(key, b"processing", ttl=self._processing_ttl)
        except KeyValueUnavailable:
            # Handling twice is better than not handling at all while the store is down.
            log.warning("update dedup store unavailable", extra={"update_id": event.update_id})
            return await handler(event, data)
        if not claimed:
            log.info("duplicate update skipped", extra={"update_id": event.update_id})
            return None
        try:
            result = await handler(event, data)
        except BaseException:
            # Not handled, so a redelivery should be allowed to try again.
            await self._release(key)
            raise
        try:
            await self._kv.set(key, b"done", ttl=DONE_TTL)
        except KeyValueUnavailable:
            log.warning("could not mark update as done", extra={"update_id": event.update_id})
        return result

    async def _release(self, key: str) -> None:
        try:
            await self._kv.delete(key)
        except KeyValueUnavailable:
            log.warning("could not release update claim")
