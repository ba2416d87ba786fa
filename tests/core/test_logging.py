"""Log lines: the text and JSON formats, and the buffered handler the app logs through."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.logging import BufferedStreamHandler, JsonFormatter, TextFormatter

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[tuple[Path, logging.Logger, list[BufferedStreamHandler]]]:
    """A logger of its own writing through BufferedStreamHandlers into a real file; handlers closed at the end."""
    path = tmp_path / "log.txt"
    logger = logging.getLogger(f"test.buffered.{tmp_path.name}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handlers: list[BufferedStreamHandler] = []
    yield path, logger, handlers
    for handler in handlers:
        handler.close()
        logger.removeHandler(handler)


def attach(
    sink: tuple[Path, logging.Logger, list[BufferedStreamHandler]], interval: float
) -> BufferedStreamHandler:
    path, logger, handlers = sink
    stream = open(path, "w", buffering=1 << 16, encoding="utf-8")  # noqa: SIM115 - the handler closes it
    handler = BufferedStreamHandler(stream, interval=interval)
    handler.setFormatter(TextFormatter())
    logger.addHandler(handler)
    handlers.append(handler)
    return handler


def wait_for_lines(path: Path, count: int, timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        lines = path.read_text(encoding="utf-8").splitlines()
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.01)


def test_info_lines_wait_for_the_interval(sink: tuple[Path, logging.Logger, list[BufferedStreamHandler]]) -> None:
    path, logger, _ = sink
    attach(sink, interval=0.3)
    started = time.monotonic()
    logger.info("first")
    logger.info("second")
    assert path.read_text(encoding="utf-8") == "", "INFO lines are held in the buffer"
    lines = wait_for_lines(path, 2, timeout=5)
    assert [line.rsplit(": ", 1)[1] for line in lines] == ["first", "second"]
    assert time.monotonic() - started < 5


def test_a_warning_writes_itself_and_everything_before_it(
    sink: tuple[Path, logging.Logger, list[BufferedStreamHandler]],
) -> None:
    path, logger, _ = sink
    attach(sink, interval=60)
    logger.info("request line")
    logger.warning("something is off")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    assert " INFO " in lines[0]
    assert lines[0].endswith("request line")
    assert " WARNING " in lines[1]
    assert lines[1].endswith("something is off")


def test_close_writes_what_is_left(sink: tuple[Path, logging.Logger, list[BufferedStreamHandler]]) -> None:
    path, logger, handlers = sink
    handler = attach(sink, interval=60)
    logger.info("last words")
    handler.close()
    logger.removeHandler(handler)
    handlers.remove(handler)
    assert path.read_text(encoding="utf-8").rstrip("\n").endswith("last words")


def test_an_exiting_process_loses_no_buffered_line(tmp_path: Path) -> None:
    """The app's own set-up, in a child process that logs and returns at once: logging's exit hook must flush."""
    script = (
        "import logging\n"
        "from core.logging import setup_logging\n"
        "setup_logging('INFO', 'json', flush_interval=30)\n"
        "for i in range(500):\n"
        "    logging.getLogger('unibot.http').info('GET /x %s', i, extra={'request_id': str(i)})\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stderr.splitlines()]
    assert [record["request_id"] for record in records] == [str(i) for i in range(500)]


def test_text_and_json_lines_carry_the_extras() -> None:
    record = logging.LogRecord("unibot.http", logging.INFO, "", 0, "GET %s %s", ("/p", 200), None)
    record.request_id = "abc"
    text = TextFormatter().format(record)
    assert " INFO    unibot.http: GET /p 200 request_id=abc" in text
    payload = json.loads(JsonFormatter().format(record))
    assert payload["msg"] == "GET /p 200"
    assert payload["request_id"] == "abc"
    assert payload["level"] == "INFO"


# Characters str.splitlines() breaks on, and others that must not reach a log line raw (ESC starts terminal
# sequences, U+202E reverses the text after it, a lone surrogate comes from undecodable input).
FORGED_PATH = "/api/v1/auth/sessions\r\n2026-12-02 00:00:00,000 CRITICAL unibot: FORGED_LINE"
HOSTILE = "a\rb\nc\x0bd\x0ce\x1cf\x1dg\x1eh\x85i\u2028j\u2029k\x1b[31ml\x7fm\u202en\tq\udcffr\U000e0001s"


def hostile_record(exc_info: logging._SysExcInfoType | None = None) -> logging.LogRecord:
    record = logging.LogRecord("unibot.http", logging.INFO, "", 0, "GET %s %s", (FORGED_PATH, 404), exc_info)
    record.path = FORGED_PATH
    record.user_agent = HOSTILE
    record.first_name = "Ева\u2028Mallory"
    return record


def test_text_line_escapes_what_clients_control() -> None:
    text = TextFormatter().format(hostile_record())
    assert len(text.splitlines()) == 1
    assert text.isprintable()
    assert "GET /api/v1/auth/sessions\\r\\n2026-12-02 00:00:00,000 CRITICAL unibot: FORGED_LINE 404" in text
    assert "path=/api/v1/auth/sessions\\r\\n2026" in text
    assert (
        "user_agent=a\\rb\\nc\\x0bd\\x0ce\\x1cf\\x1dg\\x1eh\\x85i\\u2028j\\u2029k\\x1b[31ml\\x7fm\\u202en\\tq\\udcffr"
        "\\U000e0001s"
    ) in text
    assert "first_name=Ева\\u2028Mallory" in text


def test_text_line_without_control_characters_is_unchanged() -> None:
    record = logging.LogRecord("unibot.http", logging.INFO, "", 0, "GET %s %s", ("/p/ü/😀 x", 200), None)
    record.first_name = "Ева"
    text = TextFormatter().format(record)
    assert text.endswith(" INFO    unibot.http: GET /p/ü/😀 x 200 first_name=Ева")


def test_text_traceback_stays_on_the_line() -> None:
    try:
        raise ValueError("bad input\nFORGED_LINE")
    except ValueError:
        record = hostile_record(sys.exc_info())
    text = TextFormatter().format(record)
    assert len(text.splitlines()) == 1
    assert "\\nTraceback (most recent call last):\\n" in text
    assert "ValueError: bad input\\nFORGED_LINE" in text


def test_json_line_is_one_line_and_keeps_the_values() -> None:
    try:
        raise ValueError("bad input\nFORGED_LINE\u2028")
    except ValueError:
        record = hostile_record(sys.exc_info())
    line = JsonFormatter().format(record)
    assert len(line.splitlines()) == 1
    assert line.isprintable()
    payload = json.loads(line)
    assert payload["user_agent"] == HOSTILE
    assert payload["path"] == FORGED_PATH
    assert payload["first_name"] == "Ева\u2028Mallory"
    assert payload["msg"] == f"GET {FORGED_PATH} 404"
    assert payload["exc"].endswith("ValueError: bad input\nFORGED_LINE\u2028")


def test_json_line_survives_extras_json_cannot_encode() -> None:
    record = logging.LogRecord("unibot", logging.WARNING, "", 0, "odd extras", (), None)
    record.pairs = {("a", "b"): "x\ny"}
    line = JsonFormatter().format(record)
    assert len(line.splitlines()) == 1
    payload = json.loads(line)
    assert payload["msg"] == "odd extras"
    assert payload["pairs"] == str({("a", "b"): "x\ny"})
