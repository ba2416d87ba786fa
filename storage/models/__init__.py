"""Every mapped class is imported here so that `Base.metadata` is complete for migrations and tests."""

from storage.models.auth import AuthSession, RefreshToken, RevokedAccessToken
from storage.models.base import Base
from storage.models.identity import BindingCode, Identity
from storage.models.profiles import PendingProfileLogin, TelegramProfile
from storage.models.user import User

__all__ = [
    "AuthSession",
    "Base",
    "BindingCode",
    "Identity",
    "PendingProfileLogin",
    "RefreshToken",
    "RevokedAccessToken",
    "TelegramProfile",
    "User",
]
