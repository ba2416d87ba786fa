"""Conversation helpers over the stand-in's user-side API."""

from __future__ import annotations

import asyncio
from typing import Any

from fake_telegram import FakeUser, UserClient


async def say(client: UserClient, user: FakeUser, text: str, *, timeout: float = 10) -> dict[str, Any]:
    """Send a message as the user and return the bot's first reply to it."""
    sent = await client.send_text(user, text)
    return await client.wait_for_bot_message(user["id"], after_id=int(sent["message_id"]), timeout=timeout)


async def wait_for_edit(client: UserClient, chat_id: int, message_id: int, *, timeout: float = 10) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        messages = await client.messages(chat_id)
        message = next((m for m in messages if m["message_id"] == message_id), None)
        if message is not None and message["edited"]:
            return message
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"message {message_id} in chat {chat_id} was not edited within {timeout} s")
        await asyncio.sleep(0.05)
