"""The aiohttp application factory. The composition root (run.py) passes in everything the app serves."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from core.clock import Clock
from core.services import ServiceFactory
from webserver.api import Api
from webserver.client_ip import parse_trusted
from webserver.keys import CLOCK, CONFIG, SERVICES, TRUSTED_PROXIES, WebConfig
from webserver.middlewares import request_middleware
from webserver.routes import auth, health, service, telegram
from webserver.routes.docs import register_docs

API_PREFIX = "/api/v1"


def create_api(version: str) -> Api:
    """Every documented operation; feature modules add theirs here."""
    api = Api(
        title="Unibot API",
        version=version,
        description="REST API of the Unibot Telegram application. Errors share one JSON shape.",
    )
    api.include(health.create_api())
    api.include(auth.create_api())
    api.include(telegram.create_api())
    api.include(service.create_api())
    return api


def create_app(
    *,
    services: ServiceFactory,
    clock: Clock,
    config: WebConfig,
    extra_setup: Callable[[web.Application], None] | None = None,
) -> web.Application:
    app = web.Application(
        client_max_size=config.max_body_bytes,
        middlewares=[request_middleware(config.max_body_bytes)],
    )
    app[SERVICES] = services
    app[CLOCK] = clock
    app[CONFIG] = config
    app[TRUSTED_PROXIES] = parse_trusted(config.trusted_proxies)

    api = create_api(config.version)
    api.register(app)
    register_docs(app, api)
    if extra_setup is not None:
        # The webhook route comes from the composition root, which owns the bot.
        extra_setup(app)
    return app
