"""A fixed number of keep-alive HTTP/1.1 POSTs over a few connections, every request timed: the client of
`bench.finance_entry`.

Raw asyncio streams and `bench.loadgen`'s response reader, for the reason that module gives: a client library would
spend more of its core than a fast server spends on the request. Each request may carry a header whose value is
unique per request (an Idempotency-Key), so every POST is a first attempt, not a retry.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.harness import LOOPBACK
from bench.loadgen import ProtocolError, percentile, read_response

# A request unanswered this long counts as an error; the app's own busy timeouts are far shorter.
ANSWER_TIMEOUT = 60.0


@dataclass
class Batch:
    """One batch of POSTs: latencies in milliseconds (sorted), wall time, statuses and broken connections."""

    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0

    @property
    def requests(self) -> int:
        return len(self.latencies_ms)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")

    @property
    def p95(self) -> float:
        value = percentile(self.latencies_ms, 0.95)
        return float("nan") if value is None else value

    def failures(self, expected: int) -> int:
        return self.errors + sum(count for status, count in self.statuses.items() if status != expected)


def encode_post(port: int, path: str, body: bytes, headers: Sequence[str]) -> bytes:
    head = [
        f"POST {path} HTTP/1.1",
        f"Host: {LOOPBACK}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *headers,
        "",
        "",
    ]
    return "\r\n".join(head).encode("latin-1") + body


async def _connection(
    port: int, path: str, body: bytes, headers: Sequence[str], unique: str | None, queue: list[int], batch: Batch
) -> None:
    reader, writer = await asyncio.open_connection(LOOPBACK, port)
    try:
        while queue:
            number = queue.pop()
            extra = [*headers, f"{unique}-{number}"] if unique else headers
            request = encode_post(port, path, body, extra)
            started = time.perf_counter()
            try:
                writer.write(request)
                status, keep_alive = await asyncio.wait_for(read_response(reader), ANSWER_TIMEOUT)
            except (
                OSError,
                TimeoutError,
                asyncio.IncompleteReadError,
                asyncio.LimitOverrunError,
                ProtocolError,
                ValueError,
            ):
                batch.errors += 1
                return
            batch.latencies_ms.append((time.perf_counter() - started) * 1000)
            batch.statuses[status] += 1
            if not keep_alive:
                return
    finally:
        writer.close()


async def post_batch(
    port: int,
    path: str,
    body: bytes,
    *,
    requests: int,
    connections: int,
    headers: Sequence[str] = (),
    unique: str | None = None,
) -> Batch:
    """`requests` POSTs of `body` to 127.0.0.1:`port``path`, `connections` at a time (a closed loop).

    `unique`, e.g. "Idempotency-Key: run3", adds that header with "-<n>" appended, a different n per request."""
    queue = list(range(requests, 0, -1))
    batch = Batch()
    started = time.perf_counter()
    await asyncio.gather(
        *(_connection(port, path, body, headers, unique, queue, batch) for _ in range(min(connections, requests)))
    )
    batch.seconds = time.perf_counter() - started
    batch.latencies_ms.sort()
    return batch
