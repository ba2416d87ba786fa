"""Scheduled and start-up work of the access feature."""

from __future__ import annotations

from core.access.service import AccessService
from core.container import Container


async def apply_initial_admins(container: Container) -> int:
    """The admins the settings name (run at start-up and then on the maintenance schedule, so an email account
    registered later becomes an admin without a restart); how many were made admins now."""
    async with container.unit_of_work(write=True) as uow:
        return len(await AccessService(uow).apply_initial_admins())
