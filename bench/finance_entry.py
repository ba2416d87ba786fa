"""Adding a transaction to the real app: by REST and by a bot message through the webhook, against bare aiohttp.

    python -m bench.finance_entry [--requests 300] [--sequential 100] [--connections 8] [--rounds 3]
                                  [--messages 50] [--postgres | --url postgresql+asyncpg://...] [--keep]

The app (`python run.py`, webhook mode, every middleware on, SQLite in a temporary folder or PostgreSQL) and the
bare aiohttp server (`bench.bare_app`) run as processes of their own on one core; this process, the load side and
the Telegram stand-in (`fake_telegram`, which the app's Bot API calls reach) run on another.

- REST: `POST /api/v1/transactions` from a registered user, without and with a fresh `Idempotency-Key` each time,
  and the bare server's POST route, in interleaved rounds. Latency comes from requests sent one at a time
  (`--sequential`), throughput from `--requests` over `--connections` keep-alive connections.
- Webhook: "250 coffee" from a Telegram user, then a tap on the draft's Save button, each update posted to the
  webhook route with the secret header. Timed from the POST to the webhook's answer, and to the moment the
  stand-in received the bot's reply (the draft message; the answer to the tap).

Nothing is asserted: the figures go to docs/benchmarks.md. Exit status 1 when some request failed, 2 when the bench
could not run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.bare_app import TRANSACTIONS_PATH
from bench.databases import throwaway_postgres
from bench.harness import LOOPBACK, BenchError, Child, Children, free_port
from bench.postload import Batch, post_batch
from bench.users_me import NO_LIMIT, REGISTER, TOKEN_TTL_SECONDS, app_command, machine, python_env, say
from bot.keyboards.finance import SAVE, DraftAction
from fake_telegram import FakeTelegram, FakeUser, UserClient
from fake_telegram.state import BotState, CallbackRecord, Notifier, wait_for

REPO = Path(__file__).resolve().parent.parent
BOT_ID = 5151515151
BOT_TOKEN = f"{BOT_ID}:finance-bench-token-abcdefghijklmnopqrstuvwxyz"
WEBHOOK_PATH = "/telegram/webhook"
WEBHOOK_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SECRET = "finance_bench_" + secrets.token_urlsafe(30)
TELEGRAM_USER: FakeUser = {"id": 777_500_001, "first_name": "Bench", "language_code": "en"}
ENTRY_TEXT = "250 coffee"
ENTRY_BODY = {"kind": "expense", "amount": "4.20", "note": "coffee"}
# Untimed first rounds (--warmup): the first message creates the sender and a family, the first POSTs warm caches.
WARMUP = 5
REPLY_TIMEOUT = 30.0
CONTENT_JSON = {"Content-Type": "application/json"}


@dataclass
class Options:
    requests: int
    sequential: int
    connections: int
    rounds: int
    messages: int
    warmup: int
    url: str | None
    postgres: bool
    keep: bool
    server_cpu: int | None
    client_cpu: int | None


def parse_args(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.finance_entry", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="POSTs per throughput batch (default 300)")
    parser.add_argument("--sequential", type=int, default=100, help="POSTs one at a time per round (default 100)")
    parser.add_argument("--connections", type=int, default=8, help="connections of a throughput batch (default 8)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved REST rounds (default 3)")
    parser.add_argument("--messages", type=int, default=50, help="quick entries through the webhook (default 50)")
    parser.add_argument(
        "--warmup", type=int, default=WARMUP, help=f"untimed entries, x20 POSTs first (default {WARMUP})"
    )
    database = parser.add_mutually_exclusive_group()
    database.add_argument("--url", default=None, help="the app's database (PostgreSQL, migrated by the bench)")
    database.add_argument("--postgres", action="store_true", help="start a throwaway PostgreSQL for the app")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, SQLite file)")
    parser.add_argument("--no-pin", action="store_true", help="pin nothing (servers CPU 0, this process CPU 1)")
    args = parser.parse_args(argv)
    for name in ("requests", "sequential", "connections", "rounds", "messages", "warmup"):
        if not 1 <= getattr(args, name) <= 100_000:
            parser.error(f"--{name} must be 1..100000")
    pinned = not args.no_pin and {0, 1} <= os.sched_getaffinity(0)
    return Options(
        requests=args.requests,
        sequential=args.sequential,
        connections=args.connections,
        rounds=args.rounds,
        messages=args.messages,
        warmup=args.warmup,
        url=args.url,
        postgres=args.postgres,
        keep=args.keep,
        server_cpu=0 if pinned else None,
        client_cpu=1 if pinned else None,
    )


# --- the servers ----------------------------------------------------------------------------------------------------


def app_env(tmp: Path, port: int, stand_in: str, url: str | None) -> dict[str, str]:
    env = python_env(
        UNIBOT_APP__MODE="webhook",
        UNIBOT_APP__DATA_DIR=str(tmp / "app-data"),
        UNIBOT_BOT__TOKEN=BOT_TOKEN,
        UNIBOT_BOT__API_BASE_URL=stand_in,
        UNIBOT_WEBHOOK__SECRET=SECRET,
        UNIBOT_WEBHOOK__URL=f"http://{LOOPBACK}:{port}{WEBHOOK_PATH}",
        UNIBOT_WEB__PUBLIC_URL=f"http://{LOOPBACK}:{port}",
        UNIBOT_WEB__PORT=str(port),
        UNIBOT_AUTH__JWT_SECRET=secrets.token_urlsafe(48),
        UNIBOT_AUTH__ACCESS_TTL_SECONDS=str(TOKEN_TTL_SECONDS),
        # Limits far above what a run sends: the limiters still count, but never refuse.
        UNIBOT_RATELIMIT__USER_LIMIT=NO_LIMIT,
        UNIBOT_RATELIMIT__GENERAL_LIMIT=NO_LIMIT,
        UNIBOT_ACCESS__BOT_MESSAGE_LIMIT=NO_LIMIT,
    )
    if url is not None:
        env["UNIBOT_DB__URL"] = url
    return env


async def wait_healthy(http: aiohttp.ClientSession, child: Child, port: int, seconds: float = 90.0) -> None:
    # Asynchronous, unlike the harness's: the app calls the stand-in, which runs in this loop, while it starts.
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not child.running():
            raise BenchError(f"{child.name} exited with code {child.popen.returncode} before it was ready")
        try:
            async with http.get(f"http://{LOOPBACK}:{port}/health") as reply:
                if reply.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise BenchError(f"{child.name} was not healthy within {seconds:.0f}s")


async def call(http: aiohttp.ClientSession, method: str, url: str, expect: int, **kwargs: Any) -> Any:
    async with http.request(method, url, **kwargs) as reply:
        body = await reply.read()
        if reply.status != expect:
            raise BenchError(f"{method} {url} answered {reply.status}, not {expect}: {body[:500]!r}")
        return json.loads(body) if body else None


@dataclass
class Servers:
    app: Child
    app_port: int
    bare: Child
    bare_port: int
    token: str
    body: bytes
    stand_in: FakeTelegram
    database: str


async def start_servers(
    children: Children, tmp: Path, opts: Options, url: str | None, http: aiohttp.ClientSession, fake: FakeTelegram
) -> Servers:
    port = free_port()
    env = app_env(tmp, port, fake.base_url, url)
    # Webhook mode does not migrate at start; do what `python run.py migrate` is for.
    migrate = await asyncio.create_subprocess_exec(
        *app_command(tmp, "migrate"), cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(migrate.communicate(), 120)
    if migrate.returncode != 0:
        raise BenchError(f"`python run.py migrate` failed:\n{output.decode(errors='replace')}")
    say(f"starting the app (python run.py, webhook mode) on port {port}")
    app = children.start("app", app_command(tmp), cpu=opts.server_cpu, log_path=tmp / "app.log", env=env, cwd=REPO)
    await wait_healthy(http, app, port)
    base = f"http://{LOOPBACK}:{port}/api/v1"
    token = (await call(http, "POST", f"{base}/auth/register", 200, json=REGISTER))["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    await call(http, "POST", f"{base}/families", 201, json={"name": "Bench"}, headers=auth)
    accounts = await call(http, "GET", f"{base}/accounts", 200, headers=auth)
    body = json.dumps({**ENTRY_BODY, "account_id": accounts["items"][0]["id"]}).encode()
    answer = await call(http, "POST", f"{base}/transactions", 201, data=body, headers=auth | CONTENT_JSON)
    # The bare server answers with the app's own answer, so both send the same bytes back.
    (tmp / "answer").write_text(json.dumps(answer), encoding="utf-8")
    bare_port = free_port()
    command = [sys.executable, "-m", "bench.bare_app", "--port", str(bare_port), "--body-file", str(tmp / "answer")]
    bare = children.start("bare", command, cpu=opts.server_cpu, log_path=tmp / "bare.log", env=python_env(), cwd=REPO)
    await wait_healthy(http, bare, bare_port)
    return Servers(app, port, bare, bare_port, token, body, fake, "SQLite" if url is None else "PostgreSQL")


# --- REST -----------------------------------------------------------------------------------------------------------


@dataclass
class Target:
    label: str
    server: Child
    port: int
    headers: list[str]
    unique: str | None = None
    latency: list[Batch] = field(default_factory=list)
    load: list[Batch] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


async def rest_rounds(servers: Servers, opts: Options) -> list[Target]:
    auth = [f"Authorization: Bearer {servers.token}"]
    targets = [
        Target("bare aiohttp POST", servers.bare, servers.bare_port, auth),
        Target("app, no key", servers.app, servers.app_port, auth),
        Target("app, Idempotency-Key", servers.app, servers.app_port, auth, unique="Idempotency-Key: bench"),
    ]
    for target in targets:
        await post_batch(
            target.port,
            TRANSACTIONS_PATH,
            servers.body,
            requests=opts.warmup * 20,
            connections=1,
            headers=target.headers,
            unique=target.unique and f"{target.unique}-warm",
        )
    for round_no in range(1, opts.rounds + 1):
        for target in targets:
            unique = target.unique and f"{target.unique}{round_no}"
            target.latency.append(
                await post_batch(
                    target.port,
                    TRANSACTIONS_PATH,
                    servers.body,
                    requests=opts.sequential,
                    connections=1,
                    headers=target.headers,
                    unique=unique and f"{unique}s",
                )
            )
            before, started = target.server.cpu_seconds(), time.monotonic()
            batch = await post_batch(
                target.port,
                TRANSACTIONS_PATH,
                servers.body,
                requests=opts.requests,
                connections=opts.connections,
                headers=target.headers,
                unique=unique,
            )
            after = target.server.cpu_seconds()
            if before is not None and after is not None:
                target.cpu.append(100 * (after - before) / (time.monotonic() - started))
            target.load.append(batch)
            say(
                f"round {round_no}/{opts.rounds}: {target.label}: {batch.rps:.0f} req/s, "
                f"one at a time p50 {target.latency[-1].p50:.2f} ms"
            )
    return targets


# --- webhook --------------------------------------------------------------------------------------------------------


async def seen(notifier: Notifier, condition: Callable[[], bool]) -> float:
    """The moment the stand-in's state satisfies `condition` (its handlers run in this loop, so within a tick)."""
    if not await wait_for(notifier, condition, REPLY_TIMEOUT, lambda: False):
        raise BenchError(f"the stand-in received no reply from the bot within {REPLY_TIMEOUT:.0f}s")
    return time.perf_counter()


@dataclass
class Timings:
    answer_ms: list[float] = field(default_factory=list)
    reply_ms: list[float] = field(default_factory=list)


async def post_update(
    http: aiohttp.ClientSession, servers: Servers, update: dict[str, Any], reply: Awaitable[float], into: Timings
) -> None:
    waiter = asyncio.ensure_future(reply)
    started = time.perf_counter()
    async with http.post(
        f"http://{LOOPBACK}:{servers.app_port}{WEBHOOK_PATH}", json=update, headers={WEBHOOK_HEADER: SECRET}
    ) as answer:
        await answer.read()
        answered = time.perf_counter()
        if answer.status != 200:
            waiter.cancel()
            raise BenchError(f"the webhook answered {answer.status} to update {update['update_id']}")
    into.answer_ms.append((answered - started) * 1000)
    into.reply_ms.append((await waiter - started) * 1000)


def save_button(bot: BotState, after_id: int) -> tuple[int, str]:
    """The draft message the bot sent after `after_id`, and its Save button's callback data."""
    chat = bot.chats[TELEGRAM_USER["id"]]
    for message in chat.messages.values():
        if message.from_bot and message.message_id > after_id and message.reply_markup:
            for row in message.reply_markup.get("inline_keyboard", []):
                for button in row:
                    data = button.get("callback_data", "")
                    if data.startswith(DraftAction.__prefix__) and DraftAction.unpack(data).action == SAVE:
                        return message.message_id, data
    texts = [m.text for m in chat.messages.values() if m.from_bot and m.message_id > after_id]
    raise BenchError(f"the bot did not answer {ENTRY_TEXT!r} with a draft to save: {texts}")


async def webhook_entries(http: aiohttp.ClientSession, servers: Servers, opts: Options) -> dict[str, Timings]:
    fake = servers.stand_in
    bot = fake.state.bot(BOT_ID)
    # The app registered its webhook at start; withdrawn here, so the stand-in only queues and this bench delivers.
    for _ in range(300):
        if bot.webhook is not None:
            break
        await asyncio.sleep(0.1)
    await call(http, "POST", f"{fake.base_url}/bot{BOT_TOKEN}/deleteWebhook", 200)
    results = {"message": Timings(), "save": Timings(), "bare": Timings()}
    async with UserClient(fake.base_url, BOT_ID) as users:
        for number in range(opts.warmup + opts.messages):
            sink = results if number >= opts.warmup else {key: Timings() for key in results}
            chat = bot.chats.get(TELEGRAM_USER["id"])
            last = max(chat.messages, default=0) if chat else 0
            sent = await users.send_text(TELEGRAM_USER, ENTRY_TEXT)
            chat = bot.chats[TELEGRAM_USER["id"]]
            update = bot.history[int(sent["update_id"])]

            def replied(chat: Any = chat, last: int = last) -> bool:
                return any(m.from_bot and m.message_id > last for m in chat.messages.values())

            await post_update(http, servers, update, seen(bot.chats_changed, replied), sink["message"])
            message_id, data = save_button(bot, last)
            pressed = await users.press(TELEGRAM_USER, message_id, data)
            record = bot.callbacks[pressed["callback_query_id"]]
            tap = bot.history[int(pressed["update_id"])]

            def answered(record: CallbackRecord = record) -> bool:
                return record.answer is not None

            await post_update(http, servers, tap, seen(bot.callbacks_changed, answered), sink["save"])
            # The floor: the same update posted to the bare server's POST route, with the same client.
            started = time.perf_counter()
            async with http.post(f"http://{LOOPBACK}:{servers.bare_port}{TRANSACTIONS_PATH}", json=update) as bare:
                await bare.read()
            sink["bare"].answer_ms.append((time.perf_counter() - started) * 1000)
    return results


# --- report ---------------------------------------------------------------------------------------------------------


def p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def render(servers: Servers, opts: Options, targets: list[Target], hook: dict[str, Timings]) -> tuple[str, bool]:
    info = machine()
    lines = [
        f"finance entry bench, {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC; app: webhook mode, "
        f"{servers.database}, in-process store, rate limits on (never reached)",
        f"machine: {info['cpu']}, {info['cores']} cores, Linux {info['kernel']}, Python {info['python']}, "
        f"aiohttp {info['packages']['aiohttp']}, SQLAlchemy {info['packages']['sqlalchemy']}; servers on CPU "
        f"{opts.server_cpu}, client and stand-in on CPU {opts.client_cpu}",
        f"REST: {opts.rounds} rounds x ({opts.sequential} one at a time + {opts.requests} over "
        f"{opts.connections} connections), medians over rounds",
        "",
        f"{'POST /api/v1/transactions':<26} {'p50 ms':>7} {'p95 ms':>7} {'req/s':>8} {'p95 ms':>8} {'CPU %':>6} "
        f"{'ratio':>6} {'failed':>7}",
        f"{'':<26} {'one at a time':>15} {'loaded (--connections)':>24}",
    ]
    failed = 0
    bare_rps = statistics.median(batch.rps for batch in targets[0].load)
    for target in targets:
        rps = statistics.median(batch.rps for batch in target.load)
        cpu = statistics.median(target.cpu) if target.cpu else float("nan")
        # Anything but 201, or no answer: the app's SQLite answers 500 when a writer waited past its busy timeout.
        target_failed = sum(batch.failures(201) for batch in target.latency + target.load)
        lines.append(
            f"{target.label:<26} {statistics.median(b.p50 for b in target.latency):>7.2f} "
            f"{statistics.median(b.p95 for b in target.latency):>7.2f} {rps:>8.0f} "
            f"{statistics.median(b.p95 for b in target.load):>8.2f} {cpu:>6.0f} {rps / bare_rps:>6.3f} "
            f"{target_failed:>7}"
        )
        failed += target_failed
    per_round = " ".join(f"{a.rps / b.rps:.3f}" for a, b in zip(targets[1].load, targets[0].load, strict=True))
    lines += [f"app (no key) / bare per round: {per_round}", ""]
    lines.append(f"webhook, {opts.messages} quick entries, one at a time:")
    lines.append(f"{'':<40} {'p50 ms':>7} {'p95 ms':>7}")
    rows = [
        ("'250 coffee' -> webhook answered", hook["message"].answer_ms),
        ("'250 coffee' -> draft at the stand-in", hook["message"].reply_ms),
        ("Save tap -> webhook answered", hook["save"].answer_ms),
        ("Save tap -> its answer at the stand-in", hook["save"].reply_ms),
        ("the same update -> bare aiohttp POST", hook["bare"].answer_ms),
    ]
    lines += [f"{label:<40} {statistics.median(values):>7.2f} {p95(values):>7.2f}" for label, values in rows]
    if failed:
        lines.append(f"INVALID RUN: {failed} REST requests failed or did not answer 201 (see the app's log, --keep)")
    return "\n".join(lines), not failed


@contextmanager
def database(opts: Options) -> Iterator[str | None]:
    if opts.postgres:
        say("starting a throwaway PostgreSQL server")
        with throwaway_postgres() as url:
            yield url
    else:
        yield opts.url


async def run(opts: Options, tmp: Path) -> tuple[str, bool]:
    with ExitStack() as stack:
        url = stack.enter_context(database(opts))
        children = stack.enter_context(Children())
        async with FakeTelegram(LOOPBACK, 0) as fake, aiohttp.ClientSession() as http:
            servers = await start_servers(children, tmp, opts, url, http, fake)
            targets = await rest_rounds(servers, opts)
            say(f"webhook: {opts.warmup} + {opts.messages} quick entries")
            hook = await webhook_entries(http, servers, opts)
            return render(servers, opts, targets, hook)
    raise AssertionError("unreachable")


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse_args(argv)
    if opts.client_cpu is not None:
        os.sched_setaffinity(0, {opts.client_cpu})
    tmp = Path(tempfile.mkdtemp(prefix="unibot-finbench-"))
    try:
        report, valid = asyncio.run(run(opts, tmp))
    except KeyboardInterrupt:
        say("interrupted; every process it started has been stopped")
        return 130
    except (BenchError, OSError, subprocess.TimeoutExpired) as exc:
        say(f"error: {exc}")
        for name in ("app", "bare"):
            log = tmp / f"{name}.log"
            if log.exists():
                say(f"last lines of {log.name}:\n" + "\n".join(log.read_text(errors="replace").splitlines()[-20:]))
        return 2
    finally:
        if opts.keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(report)
    return 0 if valid else 1


if __name__ == "__main__":
    sys.exit(main())
