"""Webhook delivery: one task per bot pushes its queued updates, in order, to the webhook URL."""

from __future__ import annotations

import asyncio
import logging
from http import HTTPStatus
from urllib.parse import parse_qsl

import aiohttp

from .bot_api import call_method
from .params import ApiError
from .state import BotState, FakeTelegramState, JsonDict, WebhookConfig, unix_now, wait_for

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret

# Long enough to stay idle between updates; the wait is re-armed each time it ends.
_IDLE_WAIT = 3600.0


class DeliveryError(Exception):
    """The webhook did not take the update; the message is what getWebhookInfo reports."""


def _reason(response: aiohttp.ClientResponse) -> str:
    if response.reason:
        return response.reason
    try:
        return HTTPStatus(response.status).phrase
    except ValueError:
        return "Unknown"


async def _read_method_reply(response: aiohttp.ClientResponse) -> JsonDict | None:
    """A webhook may answer with a Bot API call; aiogram sends it as multipart form data."""
    content_type = response.content_type
    fields: JsonDict = {}
    if content_type == "application/json":
        body = await response.json(content_type=None)
        if isinstance(body, dict):
            fields = body
    elif content_type == "multipart/form-data":
        reader = aiohttp.MultipartReader(response.headers, response.content)
        while (part := await reader.next()) is not None:
            if isinstance(part, aiohttp.BodyPartReader) and part.name and not part.filename:
                fields[part.name] = await part.text()
            else:
                await part.release()
    elif content_type == "application/x-www-form-urlencoded":
        fields = dict(parse_qsl(await response.text()))
    method = fields.get("method")
    if not isinstance(method, str) or not method:
        return None
    return fields


async def _post_update(
    state: FakeTelegramState, http: aiohttp.ClientSession, config: WebhookConfig, update: JsonDict
) -> JsonDict | None:
    headers = {SECRET_HEADER: config.secret_token} if config.secret_token else {}
    timeout = aiohttp.ClientTimeout(total=state.delivery_timeout)
    try:
        async with http.post(config.url, json=update, headers=headers, timeout=timeout) as response:
            if not 200 <= response.status < 300:
                raise DeliveryError(f"Wrong response from the webhook: {response.status} {_reason(response)}")
            try:
                return await _read_method_reply(response)
            except (ValueError, aiohttp.ClientError) as error:
                # The update itself was accepted; only the optional method reply was unreadable.
                log.warning("ignoring unreadable webhook reply from %s: %s", config.url, error)
                return None
    except TimeoutError:
        raise DeliveryError("Timeout expired") from None
    except aiohttp.ClientConnectorError:
        raise DeliveryError("Connection refused") from None
    except aiohttp.ClientError as error:
        raise DeliveryError(f"Connection failed: {type(error).__name__}") from None


async def _run_method_reply(state: FakeTelegramState, bot: BotState, reply: JsonDict) -> None:
    params = dict(reply)
    method = str(params.pop("method"))
    try:
        await call_method(state, bot, method, params)
    except ApiError as error:
        # Telegram never reports the outcome of a method sent in a webhook reply; the call log keeps it.
        log.info("webhook reply %s for bot %s failed: %s", method, bot.bot_id, error.description)


async def deliver_updates(
    state: FakeTelegramState, http: aiohttp.ClientSession, bot: BotState, config: WebhookConfig
) -> None:
    delay = state.retry_initial

    def has_work() -> bool:
        return bot.webhook is not config or bot.next_for_webhook() is not None

    while not state.closing and bot.webhook is config:
        entry = bot.next_for_webhook()
        if entry is None:
            await wait_for(bot.updates_changed, has_work, _IDLE_WAIT, state.is_closing)
            continue
        try:
            reply = await _post_update(state, http, config, entry.update)
        except DeliveryError as error:
            config.last_error_date = unix_now()
            config.last_error_message = str(error)
            log.info("webhook delivery to %s failed: %s; retrying in %.1fs", config.url, error, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, state.retry_max)
            continue
        delay = state.retry_initial
        bot.acknowledge(entry)
        bot.updates_changed.notify()
        if reply is not None:
            await _run_method_reply(state, bot, reply)
