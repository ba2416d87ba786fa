"""The baseline: aiohttp with one JSON route and nothing else, run by `bench.users_me` as a process of its own
(and its POST twin by `bench.finance_entry`).

    python -m bench.bare_app --port 9000 [--body-file body.json]

The routes sit at the app's paths so the two URLs differ only by port.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

USERS_ME_PATH = "/api/v1/users/me"
TRANSACTIONS_PATH = "/api/v1/transactions"
HEALTH_PATH = "/health"

# Stands in for the app's answer when that answer is not at hand (`--skip-app`). Normally the harness hands over the
# body the app really returned, so every server serialises and sends the same fields.
DEFAULT_BODY: dict[str, Any] = {
    "id": 1,
    "email": "bench@example.com",
    "email_verified": False,
    "username": None,
    "first_name": "Bench",
    "last_name": "User",
    "telegram_id": None,
    "telegram_username": None,
    "language": "en",
    "is_active": True,
    "created_at": "2025-01-01T00:00:00Z",
    "updated_at": "2025-01-01T00:00:00Z",
}


def load_body(path: Path | None) -> dict[str, Any]:
    if path is None:
        return dict(DEFAULT_BODY)
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise SystemExit(f"{path}: expected a JSON object")
    return data


async def health(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def create_app(body: dict[str, Any]) -> web.Application:
    async def users_me(request: web.Request) -> web.Response:
        # Serialised on every request, as any real JSON endpoint does; a cached bytes body would flatter the baseline.
        return web.json_response(body)

    async def add_transaction(request: web.Request) -> web.Response:
        # The baseline of a write: read and parse the JSON body, answer 201 with the body the app really returned.
        await request.json()
        return web.json_response(body, status=201)

    app = web.Application()
    app.router.add_get(USERS_ME_PATH, users_me)
    app.router.add_post(TRANSACTIONS_PATH, add_transaction)
    app.router.add_get(HEALTH_PATH, health)
    return app


def server_arguments(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body-file", type=Path, default=None, help="JSON object to answer with")
    return parser


def serve(app: web.Application, port: int) -> None:
    # No access log: the baseline is aiohttp doing nothing but routing and JSON. Loopback only, always.
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def main(argv: Sequence[str] | None = None) -> None:
    args = server_arguments("Bare aiohttp baseline for bench.users_me").parse_args(argv)
    serve(create_app(load_body(args.body_file)), args.port)


if __name__ == "__main__":
    main()
