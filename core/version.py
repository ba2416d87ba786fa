from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def app_version() -> str:
    try:
        return version("unibot")
    except PackageNotFoundError:
        return "0.0.0+source"
