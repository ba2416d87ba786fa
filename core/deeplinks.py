"""Start-link payloads (`/start <payload>` and the Mini App's start_param) understood by later features."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Telegram allows 1-64 characters of [A-Za-z0-9_-] in a start parameter.
_PAYLOAD = re.compile(r"^(?P<kind>[a-z]+)_(?P<value>[A-Za-z0-9_-]{1,60})$")
KNOWN_KINDS = frozenset({"ref", "link", "join"})


@dataclass(frozen=True, slots=True)
class DeepLink:
    kind: str
    value: str


def parse_start_payload(payload: str | None) -> DeepLink | None:
    if not payload:
        return None
    match = _PAYLOAD.fullmatch(payload.strip())
    if match is None or match["kind"] not in KNOWN_KINDS:
        return None
    return DeepLink(kind=match["kind"], value=match["value"])
