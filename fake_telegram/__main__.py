"""Run the fake Telegram on its own: `python -m fake_telegram --port 8081`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

from .server import FakeTelegram


async def _serve(host: str, port: int) -> None:
    fake = FakeTelegram(host, port)
    await fake.start()
    print(f"Fake Telegram (not the real service) is listening on {fake.base_url}")
    print(f"  chat page:   {fake.page_url}")
    print(f"  Bot API:     {fake.base_url}/bot<token>/<method>  (aiogram: TelegramAPIServer.from_base)")
    print("  any token like 123456:ABCDEFGHIJ works; the number is the bot id. Ctrl+C stops.")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Windows event loops have no signal handlers; Ctrl+C then ends asyncio.run directly.
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m fake_telegram", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8081, help="port to bind (default 8081, 0 = any)")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port))


if __name__ == "__main__":
    main()
