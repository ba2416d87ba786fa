"""The base of every request body and query model."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator


class InputModel(BaseModel):
    # Unknown fields, privileged ones included (id, is_active, levels, verification flags), are ignored.
    model_config = ConfigDict(extra="ignore")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # PostgreSQL text cannot hold NUL, SQLite can: refuse it for every input so both stores behave alike
        # and no client can turn a NUL into a database error.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain the NUL character")
        return value
