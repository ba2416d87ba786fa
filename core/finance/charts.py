"""PNG charts of spending: by category (bars) and by day (line).

Drawing uses matplotlib's object API on the Agg canvas only; pyplot keeps global figure state that is neither
thread-safe nor freed without an explicit close. Drawing is CPU work of tens to hundreds of milliseconds, so
`ChartRenderer` runs it on its own small thread pool, refuses work beyond a bounded queue and gives up waiting after a
timeout (ChartUnavailable either way). Every chart has a fixed pixel size, at most `max_categories` bars and
`max_days` points, whatever the data.
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache

from babel.dates import format_date
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font

from core.finance.errors import ChartUnavailable

_FONT = "DejaVu Sans"
_MAX_LABEL = 24
_MAX_TITLE = 80
_MAX_TICKS = 8


@dataclass(frozen=True, slots=True)
class ChartLimits:
    width_px: int = 960
    height_px: int = 540
    dpi: int = 96
    max_categories: int = 8
    max_days: int = 92


def bucket_categories(
    labels: Sequence[str], minors: Sequence[int], max_categories: int, other_label: str
) -> list[tuple[str, int]]:
    """Largest first; beyond `max_categories` bars, the smallest are summed into one `other_label` bar."""
    if len(labels) != len(minors):
        raise ValueError("one amount per label")
    if max_categories < 2:
        raise ValueError("room for at least one category and the other bucket")
    pairs = sorted(zip(labels, minors, strict=True), key=lambda p: (-p[1], p[0]))
    if len(pairs) <= max_categories:
        return pairs
    kept = pairs[: max_categories - 1]
    return [*kept, (other_label, sum(m for _, m in pairs[max_categories - 1 :]))]


def daily_series(days: Sequence[date], minors: Sequence[int], max_days: int) -> list[tuple[date, int]]:
    """One point per calendar day from the first to the last (days without entries are 0), the latest `max_days`."""
    if len(days) != len(minors):
        raise ValueError("one amount per day")
    if not days:
        return []
    totals: dict[date, int] = {}
    for day, minor in zip(days, minors, strict=True):
        totals[day] = totals.get(day, 0) + minor
    last = max(totals)
    first = max(min(totals), last - timedelta(days=max_days - 1))
    return [
        (first + timedelta(days=i), totals.get(first + timedelta(days=i), 0)) for i in range((last - first).days + 1)
    ]


@lru_cache(maxsize=1)
def _font_chars() -> frozenset[int]:
    path = font_manager.findfont(font_manager.FontProperties(family=_FONT))
    return frozenset(FT2Font(path).get_charmap())


def _label(text: str, limit: int = _MAX_LABEL) -> str:
    # Characters the font lacks (emoji, mostly) would draw as boxes and warn; shown labels lose them instead.
    chars = _font_chars()
    cleaned = "".join(c for c in text if ord(c) in chars).strip() or "?"
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def _major(minor: int, exponent: int) -> float:
    # Axes are drawn in floats; the exact amounts stay integers everywhere else.
    return float(Decimal(minor).scaleb(-exponent))


def _figure(limits: ChartLimits) -> Figure:
    figure = Figure(figsize=(limits.width_px / limits.dpi, limits.height_px / limits.dpi), dpi=limits.dpi)
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Figure, limits: ChartLimits) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=limits.dpi)
    return buffer.getvalue()


def draw_category_bars(
    labels: Sequence[str],
    minors: Sequence[int],
    exponent: int,
    *,
    title: str = "",
    other_label: str = "Other",
    limits: ChartLimits | None = None,
) -> bytes:
    """A horizontal bar per category, largest on top, as PNG bytes.

    Amounts are drawn as given: pass spending as positive minor units (the ledger keeps expenses negative).
    """
    limits = limits or ChartLimits()
    bars = bucket_categories(labels, minors, limits.max_categories, other_label)
    figure = _figure(limits)
    axes = figure.add_subplot()
    names = [_label(name) for name, _ in reversed(bars)]
    values = [_major(minor, exponent) for _, minor in reversed(bars)]
    axes.barh(range(len(values)), values, color="#4C78A8")
    axes.set_yticks(range(len(values)), names)
    if title:
        axes.set_title(_label(title, _MAX_TITLE), fontfamily=_FONT)
    axes.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    return _png(figure, limits)


def draw_daily_trend(
    days: Sequence[date],
    minors: Sequence[int],
    exponent: int,
    *,
    title: str = "",
    locale: str = "en",
    limits: ChartLimits | None = None,
) -> bytes:
    """A line of the amount per day, as PNG bytes; days are labelled as `locale` names them.

    Amounts are drawn as given: pass spending as positive minor units (the ledger keeps expenses negative).
    """
    limits = limits or ChartLimits()
    series = daily_series(days, minors, limits.max_days)
    figure = _figure(limits)
    axes = figure.add_subplot()
    if series:
        # Points at day indexes with our own tick labels: matplotlib's date axis is untyped, Babel names the days.
        axes.plot(range(len(series)), [_major(m, exponent) for _, m in series], color="#4C78A8", marker=".")
        ticks = list(range(0, len(series), max(1, -(-len(series) // _MAX_TICKS))))
        axes.set_xticks(ticks, [_label(format_date(series[i][0], "d MMM", locale=locale)) for i in ticks])
    if title:
        axes.set_title(_label(title, _MAX_TITLE), fontfamily=_FONT)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    return _png(figure, limits)


class ChartRenderer:
    """Runs chart drawing off the event loop, on `workers` threads, with at most `max_pending` charts in the pool.

    One worker by default: matplotlib shares font and text caches between figures, and one thread never contends
    for them. A chart that outlives `timeout` seconds is abandoned by its caller (ChartUnavailable) but keeps its slot
    until the thread finishes, so stuck drawings cannot pile up beyond the bound.
    """

    def __init__(self, *, workers: int = 1, max_pending: int = 4, timeout: float = 10.0) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="charts")
        self._slots = threading.BoundedSemaphore(max_pending)
        self.timeout = timeout

    async def run(self, draw: Callable[[], bytes]) -> bytes:
        if not self._slots.acquire(blocking=False):
            raise ChartUnavailable("too many charts are being drawn")
        try:
            future: Future[bytes] = self._executor.submit(draw)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _: self._slots.release())
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
        except TimeoutError as exc:
            raise ChartUnavailable() from exc

    async def category_bars(
        self,
        labels: Sequence[str],
        minors: Sequence[int],
        exponent: int,
        *,
        title: str = "",
        other_label: str = "Other",
        limits: ChartLimits | None = None,
    ) -> bytes:
        labels, minors = list(labels), list(minors)
        return await self.run(
            lambda: draw_category_bars(labels, minors, exponent, title=title, other_label=other_label, limits=limits)
        )

    async def daily_trend(
        self,
        days: Sequence[date],
        minors: Sequence[int],
        exponent: int,
        *,
        title: str = "",
        locale: str = "en",
        limits: ChartLimits | None = None,
    ) -> bytes:
        days, minors = list(days), list(minors)
        return await self.run(
            lambda: draw_daily_trend(days, minors, exponent, title=title, locale=locale, limits=limits)
        )

    def close(self) -> None:
        """Stop taking work; charts not yet started are dropped, running ones finish in the background."""
        self._executor.shutdown(wait=False, cancel_futures=True)
