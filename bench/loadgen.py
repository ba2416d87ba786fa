"""Fallback load generator for machines without wrk: keep-alive HTTP/1.1 GETs over N connections for a fixed time.

    python -m bench.loadgen --url http://127.0.0.1:9000/path --connections 50 --duration 10 [--header 'K: V']

Prints one JSON object (requests, rps, statuses, errors, latency percentiles). It is LESS ACCURATE than wrk: one
Python process on one core may saturate before a fast server does, which squeezes every ratio toward 1. The
harness reports the servers' CPU use next to the figures, so that case shows.

It speaks just enough HTTP for this job (Content-Length and chunked bodies, keep-alive) on raw asyncio streams,
because a full client library would spend more of the core than the server under test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

_HEADER_END = b"\r\n\r\n"


@dataclass
class Tally:
    latencies_ns: list[int] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)


class ProtocolError(Exception):
    pass


def percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def build_request(host: str, port: int, target: str, headers: Sequence[str]) -> bytes:
    lines = [f"GET {target} HTTP/1.1", f"Host: {host}:{port}", *headers, "", ""]
    return "\r\n".join(lines).encode("latin-1")


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; returns its status and whether the server keeps the connection open."""
    head = await reader.readuntil(_HEADER_END)
    if not head.startswith(b"HTTP/1.1 "):
        raise ProtocolError("not an HTTP/1.1 response")
    status = int(head[9:12])
    lowered = head.lower()
    keep_alive = b"\r\nconnection: close" not in lowered
    marker = lowered.find(b"\r\ncontent-length:")
    if marker >= 0:
        end = lowered.index(b"\r\n", marker + 2)
        await reader.readexactly(int(lowered[marker + 17 : end]))
    elif b"\r\ntransfer-encoding: chunked" in lowered:
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        raise ProtocolError("response without a length")
    return status, keep_alive


async def connection(host: str, port: int, request: bytes, deadline: float, tally: Tally) -> None:
    writer: asyncio.StreamWriter | None = None
    try:
        while time.monotonic() < deadline:
            if writer is None:
                try:
                    reader, writer = await asyncio.open_connection(host, port)
                except OSError as exc:
                    tally.errors[f"connect: {type(exc).__name__}"] += 1
                    await asyncio.sleep(0.01)
                    continue
            started = time.perf_counter_ns()
            try:
                writer.write(request)
                status, keep_alive = await read_response(reader)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ProtocolError, ValueError) as exc:
                tally.errors[f"read: {type(exc).__name__}"] += 1
                writer.close()
                writer = None
                continue
            # A response that finishes after the deadline is not counted, as wrk does not count it.
            if time.monotonic() <= deadline:
                tally.latencies_ns.append(time.perf_counter_ns() - started)
                tally.statuses[status] += 1
            if not keep_alive:
                writer.close()
                writer = None
    finally:
        if writer is not None:
            writer.close()


async def run(url: str, connections: int, duration: float, headers: Sequence[str]) -> dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname is None:
        raise SystemExit(f"only http:// URLs are supported: {url}")
    host, port = parts.hostname, parts.port or 80
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    request = build_request(host, port, target, headers)
    tally = Tally()
    started = time.monotonic()
    deadline = started + duration
    await asyncio.gather(*(connection(host, port, request, deadline, tally) for _ in range(connections)))
    elapsed = min(time.monotonic(), deadline) - started
    latencies_ms = sorted(value / 1e6 for value in tally.latencies_ns)
    requests = len(latencies_ms)
    return {
        "tool": "python",
        "requests": requests,
        "seconds": elapsed,
        "rps": requests / elapsed if elapsed > 0 else 0.0,
        # Stricter than wrk's count, which lets 3xx pass: anything but 200 is a failed request here.
        "bad_status": sum(count for status, count in tally.statuses.items() if status != 200),
        "statuses": {str(status): count for status, count in sorted(tally.statuses.items())},
        "errors": sum(tally.errors.values()),
        "error_kinds": dict(tally.errors),
        "latency_ms": {
            "p50": percentile(latencies_ms, 0.50),
            "p75": percentile(latencies_ms, 0.75),
            "p90": percentile(latencies_ms, 0.90),
            "p99": percentile(latencies_ms, 0.99),
            "max": latencies_ms[-1] if latencies_ms else None,
        },
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fallback HTTP load generator for bench.users_me (less accurate)")
    parser.add_argument("--url", required=True)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--header", action="append", default=[], help="extra request header, 'Name: value'")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.url, args.connections, args.duration, args.header))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
