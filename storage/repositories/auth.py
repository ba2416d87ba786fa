"""Sessions, refresh-token families and the durable access-token denylist."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.auth import AuthSession, RefreshToken, RevokedAccessToken


class AuthRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_session(self, auth_session: AuthSession) -> None:
        self.session.add(auth_session)
        await self.session.flush()

    async def get_session(self, session_id: str) -> AuthSession | None:
        return await self.session.get(AuthSession, session_id)

    async def active_sessions(self, user_id: int, now: datetime) -> Sequence[AuthSession]:
        result = await self.session.execute(
            select(AuthSession)
            .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None), AuthSession.expires_at > now)
            .order_by(AuthSession.last_used_at.desc())
        )
        return result.scalars().all()

    async def add_refresh_token(self, token: RefreshToken) -> None:
        self.session.add(token)
        await self.session.flush()

    async def refresh_token(self, token_hash: str) -> RefreshToken | None:
        return await self.session.get(RefreshToken, token_hash)

    async def mark_replaced(self, token_hash: str, now: datetime) -> bool:
        """Atomically claim the rotation of a token; False when another request already rotated it."""
        result = await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.token_hash == token_hash, RefreshToken.replaced_at.is_(None))
            .values(replaced_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def deny_access_token(self, jti: str, expires_at: datetime) -> None:
        if await self.session.get(RevokedAccessToken, jti) is None:
            self.session.add(RevokedAccessToken(jti=jti, expires_at=expires_at))
            await self.session.flush()

    async def is_denied(self, jti: str) -> bool:
        return await self.session.get(RevokedAccessToken, jti) is not None

    async def denied_since(self, now: datetime) -> Sequence[RevokedAccessToken]:
        result = await self.session.execute(select(RevokedAccessToken).where(RevokedAccessToken.expires_at > now))
        return result.scalars().all()

    async def sessions_revoked_after(self, moment: datetime) -> Sequence[AuthSession]:
        result = await self.session.execute(select(AuthSession).where(AuthSession.revoked_at > moment))
        return result.scalars().all()

    async def purge_expired_sessions(self, now: datetime, revoked_before: datetime, batch: int) -> int:
        ids = (
            (
                await self.session.execute(
                    select(AuthSession.id)
                    .where((AuthSession.expires_at <= now) | (AuthSession.revoked_at <= revoked_before))
                    .limit(batch)
                )
            )
            .scalars()
            .all()
        )
        if not ids:
            return 0
        # Refresh tokens go with their session (ON DELETE CASCADE); deleted explicitly too in case a
        # database was created without foreign keys enforced.
        await self.session.execute(delete(RefreshToken).where(RefreshToken.session_id.in_(ids)))
        await self.session.execute(delete(AuthSession).where(AuthSession.id.in_(ids)))
        return len(ids)

    async def purge_expired_denials(self, now: datetime, batch: int) -> int:
        jtis = (
            (
                await self.session.execute(
                    select(RevokedAccessToken.jti).where(RevokedAccessToken.expires_at <= now).limit(batch)
                )
            )
            .scalars()
            .all()
        )
        if not jtis:
            return 0
        await self.session.execute(delete(RevokedAccessToken).where(RevokedAccessToken.jti.in_(jtis)))
        return len(jtis)
