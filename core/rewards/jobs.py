"""Scheduled work of the rewards feature: expired cooldowns go, one unit of work per batch."""

from __future__ import annotations

from core.container import Container
from core.rewards.cooldowns import CooldownService
from core.rewards.service import RewardsConfig


async def purge_expired_cooldowns(container: Container) -> int:
    batch = container.config(RewardsConfig).purge_batch
    removed = 0
    while True:
        async with container.unit_of_work(write=True) as uow:
            count = await CooldownService(uow).purge_expired_batch(batch)
        removed += count
        if count < batch:
            return removed
