"""The aiohttp application factory. The composition root (run.py) passes in everything the app serves."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from core.access.policy import AccessConfig, check_features
from core.container import Container
from webserver.api import Api
from webserver.client_ip import parse_trusted
from webserver.i18n import TRANSLATIONS, Translations
from webserver.keys import CONFIG, CONTAINER, TRUSTED_PROXIES, WebConfig
from webserver.middlewares import request_middleware
from webserver.pages import register_stylesheet
from webserver.routes import access, auth, finance, health, identity, profiles, rewards, service, users, wallet
from webserver.routes.docs import register_docs

MAX_LINE_BYTES = 32 * 1024


def create_api(version: str) -> Api:
    """Every documented operation: the one list of route modules; a feature adds its module here."""
    api = Api(
        title="Unibot API",
        version=version,
        description="REST API of the Unibot Telegram application. Errors share one JSON shape: "
        '{"detail", "error_code", "timestamp"}. `detail` and other human text follow `Accept-Language` (en, ru), '
        "else the signed-in user's saved language; `error_code` never changes with the language.",
    )
    for module in (health, auth, users, identity, service, access, rewards, wallet, profiles, finance):
        api.include(module.create_api())
    return api


def create_app(
    *,
    container: Container,
    config: WebConfig,
    extra_setup: Callable[[web.Application], None] | None = None,
) -> web.Application:
    translations = Translations(config.locales, config.languages, config.default_language)
    app = web.Application(
        client_max_size=config.max_body_bytes,
        middlewares=[request_middleware(config.max_body_bytes, translations)],
        # aiohttp refuses request lines and headers over 8190 bytes before the app sees them, in plain text; a
        # Mini App's initData (up to 8 KiB, in a query or a `tma` header) must reach the app's own checks.
        handler_args={"max_line_size": MAX_LINE_BYTES, "max_field_size": MAX_LINE_BYTES},
    )
    app[CONTAINER] = container
    app[CONFIG] = config
    app[TRUSTED_PROXIES] = parse_trusted(config.trusted_proxies)
    app[TRANSLATIONS] = translations

    api = create_api(config.version)
    check_features((op.access for op in api.operations if op.access), container.config(AccessConfig))
    api.register(app)
    register_docs(app, api)
    register_stylesheet(app)
    if extra_setup is not None:
        # The webhook route comes from the composition root, which owns the bot.
        extra_setup(app)
    return app
