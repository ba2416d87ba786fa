"""A local fake of Telegram's Bot API, with a chat page and a user-side API for tests.

It is not Telegram: it keeps everything in memory and only knows private chats and text messages.
"""

from .client import FakeUser, UserApiError, UserClient
from .server import FakeTelegram, create_fake_telegram_app
from .state import FakeTelegramState

__all__ = [
    "FakeTelegram",
    "FakeTelegramState",
    "FakeUser",
    "UserApiError",
    "UserClient",
    "create_fake_telegram_app",
]
