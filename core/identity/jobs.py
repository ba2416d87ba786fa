"""Scheduled work of the identity feature."""

from __future__ import annotations

from core.container import Container
from core.identity.service import IdentityService

BATCH = 500


async def purge_expired_codes(container: Container) -> int:
    removed = 0
    while True:
        async with container.unit_of_work(write=True) as uow:
            batch = await IdentityService(uow).purge_expired_codes_batch(BATCH)
        removed += batch
        if batch < BATCH:
            return removed
