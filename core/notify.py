"""Messages the domain sends to people in Telegram from outside an update (a link confirmed on the web page).

The domain names the message by key and gives its parameters; the bot face translates it into the person's
language and sends it. The composition root wires the bot's implementation; without a bot nothing is sent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Notice:
    chat_id: int
    key: str
    language: str | None = None
    params: dict[str, str] = field(default_factory=dict)


class Notifier(Protocol):
    async def notify(self, notice: Notice) -> None:
        """Deliver or log the failure; never raise into the caller, whose work is already committed."""
        ...


class NullNotifier:
    async def notify(self, notice: Notice) -> None:
        log.info("notice not sent: no bot", extra={"key": notice.key})
