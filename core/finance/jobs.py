"""Scheduled finance maintenance: forgetting old idempotency keys."""

from __future__ import annotations

from core.container import Container
from core.finance.config import FinanceConfig
from storage.repositories.finance import FinanceRepository


async def purge_idempotency_keys(container: Container) -> int:
    ttl = container.config(FinanceConfig).idempotency_ttl
    async with container.unit_of_work(write=True) as uow:
        return await FinanceRepository(uow.session).purge_idempotency_keys(uow.clock.now() - ttl)
