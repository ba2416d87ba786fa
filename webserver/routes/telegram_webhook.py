"""Telegram's webhook: aiogram's request handler behind a mandatory secret, answering errors in our JSON shape."""

from __future__ import annotations

import hmac
import logging
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from pydantic import ValidationError

from webserver.errors import ApiError

log = logging.getLogger(__name__)
# Enough of a validation error's locations to tell which field was refused; the rest only repeats the kind.
_LOCATIONS_LOGGED = 3


class SecretWebhookHandler(SimpleRequestHandler):
    """Checks the secret, parses the body and validates it as an Update before the dispatcher sees it.

    Telegram redelivers every update that gets no 2xx answer, so an update aiogram cannot validate (a shape from
    another Bot API version, a truncated object) would block the webhook for good: it is logged once at WARNING,
    with its update id and which fields were refused but none of its content, and answered 200. A handler's own
    exceptions still propagate (the request middleware answers 500 and logs them).
    """

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
        bot = self.bot
        if not self.verify_secret(request.headers.get("X-Telegram-Bot-Api-Secret-Token", ""), bot):
            raise ApiError(401, "Unauthorized")
        if request.content_type != "application/json":
            raise ApiError(415, "Updates are JSON")
        try:
            data = await request.json(loads=bot.session.json_loads)
        except (ValueError, RecursionError):
            raise ApiError(400, "Malformed JSON body", error_code="MALFORMED_JSON") from None
        try:
            update = Update.model_validate(data, context={"bot": bot})
        except ValidationError as exc:
            _log_skipped(data, exc)
            return web.json_response({})
        # The update is already an Update, so the dispatcher does not validate it a second time.
        result: TelegramMethod[Any] | None = await self.dispatcher.feed_webhook_update(bot, update, **self.data)
        return web.Response(body=self._build_response_writer(bot=bot, result=result))

    # aiogram binds __call__ to its own handle, which skips the checks above; the handler used as a route is this one.
    __call__ = handle


def _log_skipped(data: Any, exc: ValidationError) -> None:
    # Locations and error kinds name fields, never values: an update carries people's messages.
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    refused = ", ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'update'}: {error['type']}"
        for error in errors[:_LOCATIONS_LOGGED]
    )
    update_id = data.get("update_id") if isinstance(data, dict) else None
    if type(update_id) is int:
        log.warning(
            "webhook: skipped update %d, not a valid Update (%d errors: %s)",
            update_id,
            len(errors),
            refused,
            extra={"update_id": update_id},
        )
    else:
        log.warning(
            "webhook: skipped a body without a readable update_id, not a valid Update (%d errors: %s)",
            len(errors),
            refused,
        )


def register_webhook(app: web.Application, path: str, handler: SecretWebhookHandler) -> None:
    app.router.add_post(path, handler.handle)
