"""The finance feature's configuration, translated from settings by the composition root."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from core.finance.charts import ChartRenderer


@dataclass(frozen=True, slots=True)
class FinanceConfig:
    # A new personal family's base currency (ISO 4217) and IANA time zone.
    default_currency: str
    default_time_zone: str
    # How long an invite lives when its creator does not say, and the longest it may live.
    invite_ttl: timedelta
    invite_max_ttl: timedelta
    # How long a quick-entry draft waits for its "save" tap.
    draft_ttl: timedelta
    # /undo reaches back this far.
    undo_window: timedelta
    # Idempotency keys are remembered this long.
    idempotency_ttl: timedelta
    # The process's one chart renderer (its thread pool is closed at shutdown).
    charts: ChartRenderer
