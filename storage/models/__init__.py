"""Every mapped class is imported here so that `Base.metadata` is complete for migrations and tests."""

from storage.models.auth import AuthSession, RefreshToken, RevokedAccessToken
from storage.models.base import Base
from storage.models.finance import (
    Account,
    Category,
    ExchangeRate,
    Family,
    FamilyInvite,
    FamilyMember,
    IdempotencyKey,
    KeywordAlias,
    Transaction,
    TransactionEdit,
)
from storage.models.identity import BindingCode, Identity
from storage.models.user import User

__all__ = [
    "Account",
    "AuthSession",
    "Base",
    "BindingCode",
    "Category",
    "ExchangeRate",
    "Family",
    "FamilyInvite",
    "FamilyMember",
    "IdempotencyKey",
    "Identity",
    "KeywordAlias",
    "RefreshToken",
    "RevokedAccessToken",
    "Transaction",
    "TransactionEdit",
    "User",
]
