"""Every mapped class is imported here so that `Base.metadata` is complete for migrations and tests."""

from storage.models.access import AuditEntry
from storage.models.auth import AuthSession, RefreshToken, RevokedAccessToken
from storage.models.base import Base
from storage.models.finance import (
    Account,
    Category,
    ExchangeRate,
    Family,
    FamilyInvite,
    FamilyMember,
    FinancePreference,
    IdempotencyKey,
    KeywordAlias,
    Transaction,
    TransactionEdit,
)
from storage.models.identity import BindingCode, Identity, ReferralCodeAlias
from storage.models.profiles import PendingProfileLogin, TelegramProfile
from storage.models.rewards import AccountKind, Cooldown, LedgerAccount, LedgerEntry, LedgerTransaction
from storage.models.user import User

# One line per feature, so features added side by side do not collide here.
__all__ = ["AuthSession", "Base", "RefreshToken", "RevokedAccessToken", "User"]
__all__ += ["BindingCode", "Identity", "ReferralCodeAlias"]
__all__ += ["AccountKind", "Cooldown", "LedgerAccount", "LedgerEntry", "LedgerTransaction"]
__all__ += ["Account", "Category", "ExchangeRate", "Family", "FamilyInvite", "FamilyMember", "IdempotencyKey"]
__all__ += ["FinancePreference", "KeywordAlias", "Transaction", "TransactionEdit"]
__all__ += ["PendingProfileLogin", "TelegramProfile"]
__all__ += ["AuditEntry"]
