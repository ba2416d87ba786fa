"""Placeholder: filled in by the Telegram sign-in work (issue 4)."""

from __future__ import annotations

from webserver.api import Api


def create_api() -> Api:
    return Api(title="telegram", version="")
