"""Logging set-up: one line per event, as text for people or JSON for collectors."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any, TextIO

# Every attribute a LogRecord gets on this Python, with the values of a record made at start-up.
_TEMPLATE = logging.LogRecord("", logging.INFO, "", 0, "", None, None).__dict__
# Attributes every LogRecord has; anything else was passed through `extra=` and belongs in the line.
_STANDARD = frozenset(_TEMPLATE) | {"message", "asctime"}
# When the logging module started counting, in seconds, so fast records get the same relativeCreated.
_LOGGING_START = _TEMPLATE["created"] - _TEMPLATE["relativeCreated"] / 1000


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {key: value for key, value in record.__dict__.items() if key not in _STANDARD}


_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _text_escape(char: str) -> str:
    short = _SHORT_ESCAPES.get(char)
    if short is not None:
        return short
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _json_escape(char: str) -> str:
    code = ord(char)
    if code < 0x10000:
        return f"\\u{code:04x}"
    # JSON spells characters beyond the BMP as a UTF-16 surrogate pair.
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def one_line(text: str) -> str:
    """`text` with every character str.isprintable() refuses (CR, LF, other control and format characters,
    line and paragraph separators, lone surrogates, non-ASCII spaces) escaped as \\r, \\n, \\t, \\xNN, \\uNNNN or
    \\UNNNNNNNN, so that a client's text can neither end a log line nor start a forged one. Text without such
    characters is returned as it is, after one C-speed check."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _text_escape(char) for char in text)


def _json_one_line(line: str) -> str:
    # json.dumps escapes C0 controls but, with ensure_ascii=False, leaves DEL, NEL (U+0085) and U+2028/U+2029 raw,
    # which some readers take for line ends. Outside strings its output is printable ASCII, so every character
    # left to escape sits inside a string, where a \u escape is valid JSON.
    if line.isprintable():
        return line
    return "".join(char if char.isprintable() else _json_escape(char) for char in line)


class FieldsRecord(logging.LogRecord):
    """A record with fields (what `extra=` would add), made without LogRecord's constructor.

    For the access log's one line per request: Logger.info with `extra=` builds a full record (path and module
    names, thread and process lookups) and copies the extras in, which cost as much as formatting the line. This
    record starts from a copy of a start-up record's attributes, so every formatter finds what it expects; the
    caller passes it to `Logger.handle`, which applies the logger's filters and handlers as usual. A custom log
    record factory is not applied to it.
    """

    def __init__(
        self, name: str, level: int, msg: str, args: tuple[object, ...], fields: dict[str, object]
    ) -> None:
        attributes = self.__dict__
        attributes.update(_TEMPLATE)
        created = time.time()
        attributes["name"] = name
        attributes["msg"] = msg
        attributes["args"] = args
        attributes["levelno"] = level
        attributes["levelname"] = logging.getLevelName(level)
        attributes["created"] = created
        attributes["msecs"] = (created - int(created)) * 1000
        attributes["relativeCreated"] = (created - _LOGGING_START) * 1000
        attributes.update(fields)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        payload.update(_extras(record))
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        try:
            line = json.dumps(payload, default=str, ensure_ascii=False)
        except (TypeError, ValueError):
            # An extra json cannot encode even with default=str (a dict with tuple keys, a cycle): keep the
            # record, with such values as their str().
            line = json.dumps({key: _plain(value) for key, value in payload.items()}, ensure_ascii=False)
        return _json_one_line(line)


def _plain(value: Any) -> Any:
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


class TextFormatter(logging.Formatter):
    """`2026-11-22 03:15:00,123 INFO    name: message key=value ...`, built by hand because the access log
    writes one line per request and the generic formatter's time formatting dominated its cost.

    One record is always one line: the message, its arguments, extras and a traceback go through `one_line`, so
    CR, LF and other control characters (a decoded request path can hold any of them) appear escaped, and a
    traceback's own line breaks read as \\n.
    """

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._stamp = ""

    def _time(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        return f"{self._stamp},{int((created - second) * 1000):03d}"

    def format(self, record: logging.LogRecord) -> str:
        line = f"{self._time(record.created)} {record.levelname:<7} {record.name}: {record.getMessage()}"
        extras = [f"{key}={value}" for key, value in record.__dict__.items() if key not in _STANDARD]
        if extras:
            line += " " + " ".join(extras)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        # One check of the whole line costs less than one per field; escaping keeps the separators as they are.
        return one_line(line)


class BufferedStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes lines into a block buffer and pushes them out every `interval` seconds, and at once for a record at
    `urgent_level` or above (a warning or an error, with everything buffered before it, is never held back).

    The access log writes one line per request; a write system call per line cost the busiest route several
    percent of its throughput. nginx's `access_log ... buffer= flush=` makes the same trade: a process killed
    outright loses at most the last `interval` seconds of INFO lines.
    """

    terminator = "\n"

    def __init__(self, stream: TextIO, *, interval: float, urgent_level: int = logging.WARNING) -> None:
        super().__init__(stream)
        self.interval = interval
        self.urgent_level = urgent_level
        self._stop = threading.Event()
        self._flusher = threading.Thread(target=self._flush_periodically, name="log-flusher", daemon=True)
        self._flusher.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.format(record) + self.terminator)
            if record.levelno >= self.urgent_level:
                self.stream.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def _flush_periodically(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.flush()
            except (OSError, ValueError):
                # The stream is gone (closed at exit, a broken pipe): nothing left to flush into.
                return

    def close(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError, ValueError):
            self.flush()
        super().close()


def _buffered_stderr() -> TextIO | None:
    """A block-buffered writer on standard error's descriptor, or None when there is no real descriptor (tests
    that capture sys.stderr): sys.stderr itself flushes after every line."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return None
    return open(os.dup(fd), "w", buffering=1 << 16, encoding="utf-8", errors="backslashreplace")


def setup_logging(level: str, fmt: str, *, flush_interval: float = 0.0) -> None:
    # The logging HOWTO's optimisations: no caller lookup (a stack walk per record) and no thread or process
    # names, which no line here prints.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    stream = _buffered_stderr() if flush_interval > 0 else None
    handler: logging.Handler
    if stream is not None:
        handler = BufferedStreamHandler(stream, interval=flush_interval)
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for previous in root.handlers:
        if isinstance(previous, BufferedStreamHandler):
            previous.close()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiohttp logs every request itself; ours carries the request id and never the query string.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
