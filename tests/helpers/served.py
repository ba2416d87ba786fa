"""The real web app served on 127.0.0.1 from a thread of its own, for clients that are synchronous (schemathesis,
whose calls go through `requests`)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aiohttp import web

from core.auth import jobs as auth_jobs
from core.clock import SystemClock
from storage.kv import MemoryStore
from tests.helpers.app import create_test_app, make_container, test_settings


@contextmanager
def served_app(tmp_path: Path, **sections: dict[str, Any]) -> Iterator[str]:
    """Yields the base URL of the app, built as run.py builds it on an SQLite file in `tmp_path`."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    stop = asyncio.Event()
    state: dict[str, Any] = {}

    async def serve() -> None:
        settings = test_settings(tmp_path, **sections)
        container = await make_container(tmp_path, MemoryStore(), SystemClock(), settings)
        await auth_jobs.warm_denylist(container, force=True)
        runner = web.AppRunner(create_test_app(container, settings), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        state["url"] = f"http://{host}:{port}"
        started.set()
        try:
            await stop.wait()
        finally:
            await runner.cleanup()
            await container.close()
            await container.db.dispose()

    def run() -> None:
        try:
            loop.run_until_complete(serve())
        except BaseException as exc:  # reported to the waiting test
            state["error"] = exc
            started.set()

    thread = threading.Thread(target=run, name="served-app", daemon=True)
    thread.start()
    started.wait(60)
    if "error" in state:
        raise RuntimeError("the app did not start") from state["error"]
    try:
        yield str(state["url"])
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()
