"""Scheduled work of the auth feature. Jobs are a face like a request: each opens its own units of work."""

from __future__ import annotations

from core.auth.service import AuthService
from core.container import Container
from storage.kv import KeyValueUnavailable

PURGE_BATCH = 500


async def purge_expired_sessions(container: Container) -> int:
    """Expired sessions, their refresh tokens, and denylist rows past their tokens' expiry, one short transaction
    per batch so the write lock is never held long."""
    return await container.in_batches(lambda uow: AuthService(uow).purge_expired_batch(PURGE_BATCH), PURGE_BATCH)


async def warm_denylist(container: Container, *, force: bool = False) -> int:
    """Reload revocations from the database into a store that lost them (a restart of either)."""
    state = container.auth_state
    if force:
        await state.mark_warm()
    elif not await state.needs_warming():
        return 0
    async with container.unit_of_work(write=False) as uow:
        denied, sessions = await AuthService(uow).revocations()
    try:
        for jti, expires_at in denied:
            await state.deny(jti, expires_at)
        for session_id, until in sessions:
            await state.revoke_session(session_id, until)
    except KeyValueUnavailable:
        await state.forget_warm()
        raise
    return len(denied) + len(sessions)
