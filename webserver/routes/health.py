"""GET /health: is this replica able to serve? Checks the database and the key-value store."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel

from core.container import Container
from core.profiles.service import ProfilesConfig
from webserver.api import Api, model_response, route
from webserver.keys import CONFIG, CONTAINER

log = logging.getLogger(__name__)

CHECK_TIMEOUT = 2.0


class HealthResponse(BaseModel):
    status: Literal["healthy", "unhealthy"]
    version: str
    mode: str
    timestamp: str
    checks: dict[str, Literal["ok", "failed"]]
    detail: str | None = None
    error_code: str | None = None
    # Optional features: "on", or "off: <why>" (e.g. Telegram profiles without api_id/api_hash).
    features: dict[str, str] = {}


def create_api() -> Api:
    return Api.collect(sys.modules[__name__])


@route(
    "GET",
    "/health",
    summary="Health of this replica",
    description="200 when the database and the key-value store answer; 503 naming the part that failed.",
    tags=["system"],
    response=HealthResponse,
    errors=[503],
    # Load balancers poll this; limiting it would turn a busy client into an outage.
    rate=None,
)
async def health(request: web.Request) -> web.StreamResponse:
    container = request.app[CONTAINER]
    config = request.app[CONFIG]
    checks = {
        "database": await _check("database", container.db.ping()),
        "kv": await _check("kv", container.kv.ping()),
    }
    failed = [name for name, state in checks.items() if state == "failed"]
    body = HealthResponse(
        status="unhealthy" if failed else "healthy",
        version=config.version,
        mode=config.mode,
        timestamp=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        checks=checks,
        detail=f"Unavailable: {', '.join(failed)}" if failed else None,
        error_code="SERVICE_UNAVAILABLE" if failed else None,
        features=_features(container),
    )
    return model_response(body, status=503 if failed else 200)


def _features(container: Container) -> dict[str, str]:
    profiles = container.config(ProfilesConfig)
    off = profiles.port is None or profiles.keyring is None
    return {"profiles": f"off: {profiles.disabled_reason or 'not configured'}" if off else "on"}


async def _check(name: str, probe: Awaitable[None]) -> Literal["ok", "failed"]:
    try:
        await asyncio.wait_for(probe, CHECK_TIMEOUT)
    except Exception as exc:
        log.warning("health check failed", extra={"part": name, "error": type(exc).__name__})
        return "failed"
    return "ok"
