"""The aiohttp application factory. The composition root (run.py) passes in everything the app serves."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from core.container import Container
from webserver.api import Api
from webserver.client_ip import parse_trusted
from webserver.keys import CONFIG, CONTAINER, TRUSTED_PROXIES, WebConfig
from webserver.middlewares import request_middleware
from webserver.routes import auth, finance, health, identity, service, users
from webserver.routes.docs import register_docs


def create_api(version: str) -> Api:
    """Every documented operation: the one list of route modules; a feature adds its module here."""
    api = Api(
        title="Unibot API",
        version=version,
        description="REST API of the Unibot Telegram application. Errors share one JSON shape.",
    )
    for module in (health, auth, users, identity, service, finance):
        api.include(module.create_api())
    return api


def create_app(
    *,
    container: Container,
    config: WebConfig,
    extra_setup: Callable[[web.Application], None] | None = None,
) -> web.Application:
    app = web.Application(
        client_max_size=config.max_body_bytes,
        middlewares=[request_middleware(config.max_body_bytes)],
    )
    app[CONTAINER] = container
    app[CONFIG] = config
    app[TRUSTED_PROXIES] = parse_trusted(config.trusted_proxies)

    api = create_api(config.version)
    api.register(app)
    register_docs(app, api)
    if extra_setup is not None:
        # The webhook route comes from the composition root, which owns the bot.
        extra_setup(app)
    return app
