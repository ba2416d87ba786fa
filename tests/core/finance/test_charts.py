from __future__ import annotations

import asyncio
import struct
import threading
from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from core.finance import charts
from core.finance.charts import ChartLimits, ChartRenderer, bucket_categories, daily_series
from core.finance.errors import ChartUnavailable

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.fixture
def renderer() -> Iterator[ChartRenderer]:
    instance = ChartRenderer(timeout=30)
    yield instance
    instance.close()


def test_bucket_keeps_the_largest_and_sums_the_rest() -> None:
    labels = ["a", "b", "c", "d", "e"]
    minors = [100, 500, 300, 200, 50]
    assert bucket_categories(labels, minors, 3, "other") == [("b", 500), ("c", 300), ("other", 350)]
    assert bucket_categories(labels, minors, 5, "other") == [("b", 500), ("c", 300), ("d", 200), ("a", 100), ("e", 50)]
    assert bucket_categories(["x", "y"], [5, 5], 3, "other") == [("x", 5), ("y", 5)]  # ties by name
    with pytest.raises(ValueError, match="one amount per label"):
        bucket_categories(["x"], [], 3, "other")


def test_daily_series_fills_gaps_and_keeps_the_latest_days() -> None:
    d = date(2026, 5, 1)
    series = daily_series([d, d + timedelta(days=3), d], [100, 50, 25], 10)
    assert series == [(d, 125), (d + timedelta(days=1), 0), (d + timedelta(days=2), 0), (d + timedelta(days=3), 50)]
    long = daily_series([d, d + timedelta(days=400)], [1, 2], 92)
    assert len(long) == 92
    assert long[-1] == (d + timedelta(days=400), 2)
    assert daily_series([], [], 92) == []


async def test_category_bars_png_of_the_fixed_size(renderer: ChartRenderer) -> None:
    labels = [f"Категория {i} 🍕" for i in range(30)]  # emoji: a glyph the font lacks
    minors = [i * 12345 for i in range(30)]
    png = await renderer.category_bars(labels, minors, 2, title="Май 2026")
    assert png_size(png) == (960, 540)
    small = ChartLimits(width_px=400, height_px=300, dpi=100, max_categories=3)
    assert png_size(await renderer.category_bars(labels, minors, 0, limits=small)) == (400, 300)


async def test_daily_trend_png_of_the_fixed_size(renderer: ChartRenderer) -> None:
    start = date(2025, 1, 1)
    days = [start + timedelta(days=i * 3) for i in range(200)]
    png = await renderer.daily_trend(days, [1000 + i for i in range(200)], 3, title="Тренд", locale="ru")
    assert png_size(png) == (960, 540)
    assert png_size(await renderer.daily_trend([], [], 2)) == (960, 540)


def test_many_categories_draw_no_more_bars_than_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[int] = []
    real_bucket = charts.bucket_categories

    def counting(*args: object, **kwargs: object) -> list[tuple[str, int]]:
        result = real_bucket(*args, **kwargs)  # type: ignore[arg-type]
        drawn.append(len(result))
        return result

    monkeypatch.setattr(charts, "bucket_categories", counting)
    charts.draw_category_bars([str(i) for i in range(500)], list(range(500)), 2)
    assert drawn == [ChartLimits().max_categories]


async def test_drawing_runs_on_a_worker_thread(monkeypatch: pytest.MonkeyPatch, renderer: ChartRenderer) -> None:
    threads: list[threading.Thread] = []
    real = charts.draw_category_bars

    def recording(*args: object, **kwargs: object) -> bytes:
        threads.append(threading.current_thread())
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(charts, "draw_category_bars", recording)
    png = await renderer.category_bars(["a"], [100], 2)
    assert png[:8] == PNG_SIGNATURE
    assert len(threads) == 1
    assert threads[0] is not threading.current_thread()
    assert threads[0].name.startswith("charts")


async def test_slow_drawing_times_out_as_a_domain_error() -> None:
    release = threading.Event()
    renderer = ChartRenderer(timeout=0.05)

    def slow() -> bytes:
        release.wait(5)
        return b"late"

    try:
        with pytest.raises(ChartUnavailable) as caught:
            await renderer.run(slow)
        assert caught.value.code == "finance.chart_unavailable"
    finally:
        release.set()
        renderer.close()


async def test_work_beyond_the_queue_bound_is_refused_until_the_stuck_drawing_ends() -> None:
    release = threading.Event()
    renderer = ChartRenderer(max_pending=1, timeout=0.05)

    def stuck() -> bytes:
        release.wait(5)
        return b"done"

    try:
        with pytest.raises(ChartUnavailable):
            await renderer.run(stuck)  # times out, but the thread still holds the slot
        with pytest.raises(ChartUnavailable, match="too many"):
            await renderer.run(lambda: b"next")
        release.set()
        for _ in range(500):  # the slot comes back when the thread finishes (up to 5 s on a busy machine)
            await asyncio.sleep(0.01)
            try:
                assert await renderer.run(lambda: b"next") == b"next"
                break
            except ChartUnavailable:
                continue
        else:
            pytest.fail("the slot never came back")
    finally:
        release.set()
        renderer.close()
