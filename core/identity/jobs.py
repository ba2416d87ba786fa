"""Scheduled work of the identity feature."""

from __future__ import annotations

from core.container import Container
from core.identity.service import IdentityService

BATCH = 500


async def purge_expired_codes(container: Container) -> int:
    return await container.in_batches(lambda uow: IdentityService(uow).purge_expired_codes_batch(BATCH), BATCH)
