"""Reference points between bare aiohttp and the app, for `bench.users_me --breakdown`.

    BENCH_JWT_SECRET=... python -m bench.reference_apps jwt --port 9001 [--body-file body.json]
    BENCH_JWT_SECRET=... python -m bench.reference_apps jwt-orm --port 9002 --db-file users.sqlite3

`jwt`: the bare route plus a PyJWT HS256 decode of the bearer token on every request.
`jwt-orm`: the same plus one SQLAlchemy ORM lookup by primary key through aiosqlite, in a session of its own.
Neither imports the project: they are what the issue calls the floor of any authenticated endpoint.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import jwt
from aiohttp import web
from sqlalchemy import String, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bench.bare_app import HEALTH_PATH, USERS_ME_PATH, health, load_body, serve, server_arguments

Variant = Literal["jwt", "jwt-orm"]
VARIANTS: tuple[Variant, ...] = ("jwt", "jwt-orm")

# The secret travels in the environment so it never shows in `ps`.
SECRET_ENV = "BENCH_JWT_SECRET"  # noqa: S105 - the variable's name, not a secret
ISSUER = "bench"
AUDIENCE = "bench-api"
USER_ID = 1
# Every registered claim is required, as the app requires them: a laxer decode would understate the cost.
_REQUIRED_CLAIMS = ["iss", "aud", "sub", "iat", "exp", "jti", "token_type"]

SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])


def mint_token(secret: str, *, lifetime_seconds: int = 86400) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(USER_ID),
        "iat": now,
        "exp": now + lifetime_seconds,
        "jti": secrets.token_hex(16),
        "token_type": "access",
    }
    return jwt.encode(claims, secret, algorithm="HS256", headers={"typ": "at+jwt"})


def verify(request: web.Request, secret: str) -> int:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise web.HTTPUnauthorized(text="missing bearer token")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": _REQUIRED_CLAIMS},
        )
    except jwt.InvalidTokenError as exc:
        raise web.HTTPUnauthorized(text=f"invalid token: {type(exc).__name__}") from None
    if claims.get("token_type") != "access":
        raise web.HTTPUnauthorized(text="not an access token")
    return int(claims["sub"])


class Base(DeclarativeBase):
    pass


class BenchUser(Base):
    """A few of the app's user columns: enough for a realistic row, no more."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    language: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


def _row_fields(user: BenchUser, body: dict[str, Any]) -> dict[str, Any]:
    row = {
        "id": user.id,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "language": user.language,
        "created_at": user.created_at.isoformat(),
        "updated_at": user.updated_at.isoformat(),
    }
    # Only the keys the app's body has, so the answer keeps the same size and shape as the app's.
    return {key: value for key, value in row.items() if key in body}


def _database(db_file: Path) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        engine = create_async_engine(f"sqlite+aiosqlite:///{db_file}")
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        async with sessions() as session, session.begin():
            if (await session.execute(select(BenchUser.id))).first() is None:
                now = datetime.now(UTC)
                session.add(
                    BenchUser(
                        id=USER_ID,
                        email="bench@example.com",
                        first_name="Bench",
                        last_name="User",
                        language="en",
                        created_at=now,
                        updated_at=now,
                    )
                )
        app[SESSIONS] = sessions
        yield
        await engine.dispose()

    return ctx


def create_app(variant: Variant, body: dict[str, Any], secret: str, db_file: Path | None) -> web.Application:
    app = web.Application()
    app.router.add_get(HEALTH_PATH, health)

    async def users_me_jwt(request: web.Request) -> web.Response:
        verify(request, secret)
        return web.json_response(body)

    async def users_me_orm(request: web.Request) -> web.Response:
        user_id = verify(request, secret)
        # A fresh session per request, as a unit of work would have: a real SELECT, never the identity map.
        async with request.app[SESSIONS]() as session:
            user = await session.get(BenchUser, user_id)
        if user is None:
            raise web.HTTPNotFound(text="no such user")
        return web.json_response({**body, **_row_fields(user, body)})

    if variant == "jwt":
        app.router.add_get(USERS_ME_PATH, users_me_jwt)
    else:
        if db_file is None:
            raise SystemExit("jwt-orm needs --db-file")
        app.cleanup_ctx.append(_database(db_file))
        app.router.add_get(USERS_ME_PATH, users_me_orm)
    return app


def main(argv: Sequence[str] | None = None) -> None:
    parser = server_arguments("Reference servers for bench.users_me --breakdown")
    parser.add_argument("variant", choices=VARIANTS)
    parser.add_argument("--db-file", type=Path, default=None, help="SQLite file for jwt-orm (created when missing)")
    args = parser.parse_args(argv)
    secret = os.environ.get(SECRET_ENV, "")
    if len(secret.encode()) < 32:
        raise SystemExit(f"{SECRET_ENV} must hold at least 32 bytes")
    serve(create_app(args.variant, load_body(args.body_file), secret, args.db_file), args.port)


if __name__ == "__main__":
    main()
