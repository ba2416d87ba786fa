"""Every mapped class is imported here so that `Base.metadata` is complete for migrations and tests."""

from storage.models.auth import AuthSession, RefreshToken, RevokedAccessToken
from storage.models.base import Base
from storage.models.identity import BindingCode, Identity
from storage.models.rewards import AccountKind, Cooldown, LedgerAccount, LedgerEntry, LedgerTransaction
from storage.models.user import User

__all__ = ["AuthSession", "Base", "BindingCode", "Identity", "RefreshToken", "RevokedAccessToken", "User"]
__all__ += ["AccountKind", "Cooldown", "LedgerAccount", "LedgerEntry", "LedgerTransaction"]
