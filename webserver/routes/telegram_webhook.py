"""Telegram's webhook: aiogram's request handler behind a mandatory secret, answering errors in our JSON shape."""

from __future__ import annotations

import hmac

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from webserver.errors import ApiError


class SecretWebhookHandler(SimpleRequestHandler):
    def __init__(self, dispatcher: Dispatcher, bot: Bot, *, secret_token: str) -> None:
        if not secret_token:
            raise ValueError("a webhook secret is mandatory")
        # Handling inside the request keeps at-least-once delivery: Telegram gets 200 only after the update
        # was handled, and a graceful shutdown waits for requests in flight.
        super().__init__(dispatcher, bot, handle_in_background=False, secret_token=secret_token)
        self._secret = secret_token.encode()

    def verify_secret(self, telegram_secret_token: str, bot: Bot) -> bool:
        return hmac.compare_digest(telegram_secret_token.encode(), self._secret)

    async def handle(self, request: web.Request) -> web.Response:
        if not self.verify_secret(request.headers.get("X-Telegram-Bot-Api-Secret-Token", ""), self.bot):
            raise ApiError(401, "Unauthorized")
        if request.content_type != "application/json":
            raise ApiError(415, "Updates are JSON")
        try:
            await request.json()
        except ValueError:
            raise ApiError(400, "Malformed JSON body", error_code="MALFORMED_JSON") from None
        return await super().handle(request)


def register_webhook(app: web.Application, path: str, handler: SecretWebhookHandler) -> None:
    app.router.add_post(path, handler.handle)
