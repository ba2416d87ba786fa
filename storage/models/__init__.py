"""Every mapped class is imported here so that `Base.metadata` is complete for migrations and tests."""

from storage.models.base import Base
from storage.models.user import User

__all__ = ["Base", "User"]
