"""Process and load plumbing for `bench.users_me`: pinned child processes that are always stopped, loopback HTTP
probes, and one load run with wrk or the Python fallback, reduced to the same figures."""

from __future__ import annotations

import http.client
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

LOOPBACK = "127.0.0.1"
LoadTool = Literal["wrk", "python"]

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """The benchmark cannot go on; the message says what is wrong and, where it can, what to do."""


def free_port() -> int:
    # The port may in theory be taken again before the child binds it; on a loopback-only bench box that race is
    # rare enough, and a lost race shows up as a start failure with the child's log, not as a wrong figure.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


# Low as real-time priorities go: enough to run before any ordinary process, below the kernel's own RT threads.
REALTIME_PRIORITY = 10


def _pinner(cpu: int | None, *, realtime: bool = False) -> Callable[[], None] | None:
    if cpu is None and not realtime:
        return None

    def pin() -> None:
        # Runs in the child between fork and exec, so every thread the server starts later inherits the same core.
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})
        if realtime:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(REALTIME_PRIORITY))

    return pin


@dataclass
class Child:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path | None

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def cpu_seconds(self) -> float | None:
        """User plus system CPU time of the process and all its threads so far."""
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return None
        # The command name may hold spaces and parentheses; the numeric fields start after its last ')'.
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 16384))
            text = handle.read().decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace: float) -> None:
        if self.running():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                if grace > 0:
                    print(f"bench: {self.name} (pid {self.pid}) ignored SIGTERM for {grace:.0f}s", file=sys.stderr)
        # The child leads its own process group; whatever it left behind in that group goes too.
        with suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        self.popen.wait()


class Children:
    """Every process the bench starts, stopped in reverse order when the block ends, however it ends."""

    def __init__(self, grace: float = 30.0) -> None:
        self._children: list[Child] = []
        self._grace = grace

    def start(
        self,
        name: str,
        command: Sequence[str],
        *,
        cpu: int | None,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Child:
        with log_path.open("wb") as log:
            popen = subprocess.Popen(
                list(command),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                # Own session: a Ctrl-C at the terminal reaches only the harness, which then stops servers in order.
                start_new_session=True,
                preexec_fn=_pinner(cpu),  # safe: the harness starts no threads
            )
        child = Child(name, popen, log_path)
        self._children.append(child)
        return child

    def close(self) -> None:
        while self._children:
            child = self._children.pop()
            try:
                child.stop(self._grace)
            except KeyboardInterrupt:
                # A second Ctrl-C while waiting: stop waiting politely, for this child and the rest, but still
                # leave nothing running.
                self._grace = 0
                child.stop(0)

    def __enter__(self) -> Children:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    port: int,
    method: str,
    path: str,
    *,
    json_body: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> Reply:
    """One request to 127.0.0.1; the bench never talks to anything else."""
    all_headers = dict(headers or {})
    body = None
    if json_body is not None:
        body = json.dumps(json_body).encode()
        all_headers["Content-Type"] = "application/json"
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        return Reply(response.status, {key.lower(): value for key, value in response.getheaders()}, response.read())
    finally:
        conn.close()


def wait_until_healthy(child: Child, port: int, *, path: str = "/health", timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if not child.running():
            raise BenchError(f"{child.name} exited with code {child.popen.returncode} before it was ready")
        try:
            reply = request(port, "GET", path, timeout=2.0)
        except OSError as exc:
            last = repr(exc)
        else:
            if reply.status == 200:
                return
            last = f"HTTP {reply.status}"
        time.sleep(0.2)
    raise BenchError(f"{child.name} was not healthy at GET {path} within {timeout:.0f}s ({last})")


def wait_for_redis(child: Child, port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.running():
            raise BenchError(f"redis-server exited with code {child.popen.returncode}")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=1.0) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(64).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise BenchError(f"redis-server did not answer PING within {timeout:.0f}s")


def _read_bulk(sock: socket.socket) -> bytes:
    """One RESP bulk-string reply: "$<length>", CRLF, the payload, CRLF."""
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise BenchError("redis-server closed the connection mid-reply")
        data += chunk
    header, _, payload = data.partition(b"\r\n")
    if not header.startswith(b"$"):
        raise BenchError(f"unexpected reply from redis-server: {header[:200]!r}")
    length = int(header[1:])
    while len(payload) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise BenchError("redis-server closed the connection mid-reply")
        payload += chunk
    return payload[:length]


def redis_command_calls(port: int) -> dict[str, int]:
    """Calls per command since redis-server started, from INFO commandstats (an inline command, no client needed)."""
    with socket.create_connection((LOOPBACK, port), timeout=5.0) as sock:
        sock.sendall(b"INFO commandstats\r\n")
        text = _read_bulk(sock).decode("utf-8", "replace")
    return {match[1]: int(match[2]) for match in re.finditer(r"^cmdstat_([^:]+):calls=(\d+)", text, re.MULTILINE)}


@dataclass
class LoadResult:
    tool: LoadTool
    requests: int
    seconds: float
    rps: float
    # wrk: responses outside 2xx/3xx; the Python generator: anything but 200.
    bad_status: int
    # Connect, read, write errors and timeouts.
    errors: int
    latency_ms: dict[str, float | None] = field(default_factory=dict)
    # The server's CPU time over the run's wall time; near 100 means the server, not the load, was the limit.
    server_cpu_percent: float | None = None
    # CPU time on the server's core that went to anything but the server: noise in this measurement.
    others_cpu_percent: float | None = None
    # The load generator's CPU, and what outside processes took from its core: a starved generator sends requests
    # in smaller bursts, which costs the server more per request even while it stays at 100%.
    load_cpu_percent: float | None = None
    load_core_others_percent: float | None = None
    # A real-time generator runs the moment it has work, so others on its core only fill its idle time.
    load_realtime: bool = False

    @property
    def valid(self) -> bool:
        return self.requests > 0 and self.bad_status == 0 and self.errors == 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_TIME_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
_WRK_LATENCY = re.compile(r"^\s*(50|75|90|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_WRK_TOTAL = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)", re.MULTILINE)
_WRK_RPS = re.compile(r"^Requests/sec:\s*([\d.]+)", re.MULTILINE)
_WRK_BAD = re.compile(r"Non-2xx or 3xx responses:\s*(\d+)")
_WRK_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


def parse_wrk(output: str) -> LoadResult:
    total = _WRK_TOTAL.search(output)
    rps = _WRK_RPS.search(output)
    if total is None or rps is None:
        raise BenchError(f"could not read wrk's output:\n{output}")
    latency: dict[str, float | None] = {
        f"p{match[1]}": float(match[2]) * _TIME_UNITS[match[3]] for match in _WRK_LATENCY.finditer(output)
    }
    bad = _WRK_BAD.search(output)
    socket_errors = _WRK_SOCKET.search(output)
    return LoadResult(
        tool="wrk",
        requests=int(total[1]),
        seconds=float(total[2]) * _TIME_UNITS[total[3]] / 1e3,
        rps=float(rps[1]),
        bad_status=int(bad[1]) if bad else 0,
        errors=sum(int(value) for value in socket_errors.groups()) if socket_errors else 0,
        latency_ms=latency,
    )


def parse_python(output: str) -> LoadResult:
    try:
        data = json.loads(output)
    except ValueError:
        raise BenchError(f"could not read the Python load generator's output:\n{output}") from None
    return LoadResult(
        tool="python",
        requests=int(data["requests"]),
        seconds=float(data["seconds"]),
        rps=float(data["rps"]),
        bad_status=int(data["bad_status"]),
        errors=int(data["errors"]),
        latency_ms={key: data["latency_ms"].get(key) for key in ("p50", "p75", "p90", "p99")},
    )


def load_command(tool: LoadTool, url: str, *, connections: int, duration: int, headers: Sequence[str]) -> list[str]:
    if tool == "wrk":
        header_args = [part for header in headers for part in ("-H", header)]
        # One wrk thread: the load side has one core, and a second thread would only fight the first for it.
        # The generous timeout keeps a GC pause from being counted as a failure; real failures still are.
        return ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "10s", *header_args, url]
    header_args = [part for header in headers for part in ("--header", header)]
    return [
        sys.executable,
        "-m",
        "bench.loadgen",
        "--url",
        url,
        "--connections",
        str(connections),
        "--duration",
        str(duration),
        *header_args,
    ]


def core_ticks(cpu: int) -> tuple[int, int] | None:
    """(busy, total) clock ticks of one core since boot; steal counts as busy, since the server could not run."""
    try:
        lines = Path("/proc/stat").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        name, *values = line.split()
        if name == f"cpu{cpu}":
            # user nice system idle iowait irq softirq steal; guest time is already inside user.
            ticks = [int(value) for value in values[:8]]
            return sum(ticks) - ticks[3] - ticks[4], sum(ticks)
    return None


def _own_and_reaped_seconds() -> float:
    # The harness's own CPU plus that of children it has reaped; across one load run the only child reaped is the
    # load generator, whose time is otherwise gone once it exits.
    own, reaped = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime


def _percent(before: float | None, after: float | None, wall: float) -> float | None:
    if before is None or after is None or wall <= 0:
        return None
    return 100.0 * (after - before) / wall


def _core_busy(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    if before is None or after is None or after[1] <= before[1]:
        return None
    return 100.0 * (after[0] - before[0]) / (after[1] - before[1])


@dataclass
class Usage:
    server_percent: float | None = None
    server_core_others_percent: float | None = None
    load_percent: float | None = None
    load_core_others_percent: float | None = None


@contextmanager
def _measured(
    server: Child | None, server_cpu: int | None, client_cpu: int | None, companions: Sequence[Child]
) -> Iterator[Usage]:
    """CPU accounting of one run on both cores, so that noise from outside the bench can be told apart."""
    usage = Usage()
    server_before = server.cpu_seconds() if server else None
    companions_before = [child.cpu_seconds() for child in companions]
    load_before = _own_and_reaped_seconds()
    server_core_before = core_ticks(server_cpu) if server_cpu is not None else None
    client_core_before = core_ticks(client_cpu) if client_cpu is not None else None
    wall_before = time.monotonic()
    yield usage
    wall = time.monotonic() - wall_before
    server_core = _core_busy(server_core_before, core_ticks(server_cpu) if server_cpu is not None else None)
    client_core = _core_busy(client_core_before, core_ticks(client_cpu) if client_cpu is not None else None)
    usage.server_percent = _percent(server_before, server.cpu_seconds() if server else None, wall)
    usage.load_percent = _percent(load_before, _own_and_reaped_seconds(), wall)
    if server_core is not None and usage.server_percent is not None:
        # What else ran on the server's core (other processes, the hypervisor's steal) was taken from the server.
        usage.server_core_others_percent = max(0.0, server_core - usage.server_percent)
    companion_percents = [
        _percent(before, child.cpu_seconds(), wall) for before, child in zip(companions_before, companions, strict=True)
    ]
    if client_core is not None and usage.load_percent is not None and None not in companion_percents:
        ours = usage.load_percent + sum(value or 0.0 for value in companion_percents)
        usage.load_core_others_percent = max(0.0, client_core - ours)


def run_load(
    tool: LoadTool,
    url: str,
    *,
    connections: int,
    duration: int,
    headers: Sequence[str],
    cpu: int | None,
    server: Child | None,
    server_cpu: int | None,
    companions: Sequence[Child] = (),
    realtime: bool = False,
    cwd: Path,
) -> LoadResult:
    """One fixed-length load run against `url`, with the generator pinned to `cpu`; bounded by a hard timeout.

    `companions` are the bench's own processes that share the generator's core (redis-server), so their CPU is not
    mistaken for outside noise. `realtime` runs the generator under SCHED_FIFO: it sleeps in epoll most of the time,
    and when a response arrives it must run at once, not after whatever else holds its core finishes a time slice."""
    command = load_command(tool, url, connections=connections, duration=duration, headers=headers)
    popen = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        start_new_session=True,
        preexec_fn=_pinner(cpu, realtime=realtime),  # safe: the harness starts no threads
    )
    try:
        with _measured(server, server_cpu, cpu, companions) as usage:
            stdout, stderr = popen.communicate(timeout=duration + 60)
    except BaseException:
        # Timeout, Ctrl-C or anything else: the generator must not outlive the harness.
        with suppress(ProcessLookupError):
            os.killpg(popen.pid, signal.SIGKILL)
        popen.wait()
        raise
    output = stdout.decode("utf-8", "replace")
    if popen.returncode != 0:
        problem = stderr.decode("utf-8", "replace")
        raise BenchError(f"{command[0]} failed with code {popen.returncode}:\n{output}{problem}")
    result = parse_wrk(output) if tool == "wrk" else parse_python(output)
    result.server_cpu_percent = usage.server_percent
    result.others_cpu_percent = usage.server_core_others_percent
    result.load_cpu_percent = usage.load_percent
    result.load_core_others_percent = usage.load_core_others_percent
    result.load_realtime = realtime
    return result
