"""Turns formatted message text into plain text plus entities, the way Telegram stores messages.

Bots see the plain text and the entity list in the Message they get back, so the fake has to do the
same conversion; otherwise a bot that works here would break against the real service.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

JsonDict = dict[str, Any]

MAX_TEXT_LENGTH = 4096

# Characters MarkdownV2 insists on being escaped outside of code and links.
_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")

_HTML_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "pre": "pre",
}


class EntityParseError(ValueError):
    """The text cannot be parsed in the requested parse mode; carries Telegram's wording."""


def utf16_len(text: str) -> int:
    # Telegram measures entity offsets in UTF-16 code units, not in Python characters.
    return len(text.encode("utf-16-le")) // 2


def _sorted_entities(entities: list[JsonDict]) -> list[JsonDict]:
    kept = [e for e in entities if e["length"] > 0]
    return sorted(kept, key=lambda e: (e["offset"], -e["length"]))


class _HtmlToEntities(HTMLParser):
    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self._source = source
        self._parts: list[str] = []
        self._offset = 0
        # Each open tag remembers the entity it will produce (None for tags that only modify a parent).
        self._stack: list[tuple[str, JsonDict | None]] = []
        self.entities: list[JsonDict] = []

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def _byte_offset(self) -> int:
        line, column = self.getpos()
        lines = self._source.split("\n")
        chars = sum(len(item) + 1 for item in lines[: line - 1]) + column
        return len(self._source[:chars].encode())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        entity: JsonDict | None
        if tag in _HTML_SIMPLE_TAGS:
            entity = {"type": _HTML_SIMPLE_TAGS[tag]}
        elif tag == "span" and attributes.get("class") == "tg-spoiler":
            entity = {"type": "spoiler"}
        elif tag == "a":
            entity = {"type": "text_link", "url": attributes.get("href", "")}
        elif tag == "code":
            language = attributes.get("class", "")
            parent = self._stack[-1][1] if self._stack else None
            if parent is not None and parent["type"] == "pre" and language.startswith("language-"):
                parent["language"] = language.removeprefix("language-")
                entity = None
            else:
                entity = {"type": "code"}
        elif tag == "blockquote":
            entity = {"type": "expandable_blockquote" if "expandable" in attributes else "blockquote"}
        elif tag == "tg-emoji":
            entity = {"type": "custom_emoji", "custom_emoji_id": attributes.get("emoji-id", "")}
        else:
            raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset {self._byte_offset()}')
        if entity is not None:
            entity["offset"] = self._offset
        self._stack.append((tag, entity))

    def handle_endtag(self, tag: str) -> None:
        if not self._stack:
            raise EntityParseError(f'Unexpected end tag at byte offset {self._byte_offset()}')
        open_tag, entity = self._stack.pop()
        if open_tag != tag:
            raise EntityParseError(
                f'Unmatched end tag at byte offset {self._byte_offset()}, expected "</{open_tag}>", '
                f'found "</{tag}>"'
            )
        if entity is not None:
            entity["length"] = self._offset - entity["offset"]
            self.entities.append(entity)

    def handle_data(self, data: str) -> None:
        self._parts.append(data)
        self._offset += utf16_len(data)

    def finish(self) -> None:
        self.close()
        if self._stack:
            tag = self._stack[-1][0]
            raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{tag}"')


def parse_html(source: str) -> tuple[str, list[JsonDict]]:
    parser = _HtmlToEntities(source)
    parser.feed(source)
    parser.finish()
    return parser.text, _sorted_entities(parser.entities)


class _MarkdownToEntities:
    """A compact reading of Telegram's MarkdownV2 (and, with legacy=True, of the old Markdown)."""

    def __init__(self, source: str, *, legacy: bool) -> None:
        self._src = source
        self._legacy = legacy
        self._pos = 0
        self._parts: list[str] = []
        self._offset = 0
        self._open: list[tuple[str, JsonDict]] = []
        self.entities: list[JsonDict] = []
        self._quote: JsonDict | None = None

    def _fail(self, message: str) -> EntityParseError:
        byte_offset = len(self._src[: self._pos].encode())
        return EntityParseError(message.replace("{at}", f"byte offset {byte_offset}"))

    def _emit(self, text: str) -> None:
        self._parts.append(text)
        self._offset += utf16_len(text)

    def _toggle(self, marker: str, entity_type: str) -> None:
        if self._open and self._open[-1][0] == marker:
            _, entity = self._open.pop()
            entity["length"] = self._offset - entity["offset"]
            self.entities.append(entity)
        elif any(open_marker == marker for open_marker, _ in self._open):
            raise self._fail(f"Can't find end of {entity_type} entity at {{at}}")
        else:
            self._open.append((marker, {"type": entity_type, "offset": self._offset}))

    def _read_until(self, terminator: str, *, escapes: str) -> str:
        # Code, pre and link URLs only honour escapes of their own terminator and the backslash.
        collected: list[str] = []
        src = self._src
        while self._pos < len(src):
            if src.startswith(terminator, self._pos):
                self._pos += len(terminator)
                return "".join(collected)
            char = src[self._pos]
            if char == "\\" and not self._legacy and self._pos + 1 < len(src) and src[self._pos + 1] in escapes:
                collected.append(src[self._pos + 1])
                self._pos += 2
                continue
            collected.append(char)
            self._pos += 1
        raise self._fail("Can't find end of the entity starting at {at}")

    def _code(self) -> None:
        src = self._src
        if src.startswith("```", self._pos):
            self._pos += 3
            newline = src.find("\n", self._pos)
            closing = src.find("```", self._pos)
            language = ""
            if newline != -1 and (closing == -1 or newline < closing):
                language = src[self._pos : newline].strip()
                self._pos = newline + 1
            body = self._read_until("```", escapes="`\\")
            entity: JsonDict = {"type": "pre", "offset": self._offset}
            if language:
                entity["language"] = language
        else:
            self._pos += 1
            body = self._read_until("`", escapes="`\\")
            entity = {"type": "code", "offset": self._offset}
        self._emit(body)
        entity["length"] = utf16_len(body)
        self.entities.append(entity)

    def _link_end(self) -> None:
        if not self._open or self._open[-1][0] != "[":
            raise self._fail("Character ']' is reserved and must be escaped with the preceding '\\'")
        if not self._src.startswith("(", self._pos + 1):
            raise self._fail("Can't find end of a url at {at}")
        self._pos += 2
        url = self._read_until(")", escapes=")\\")
        _, entity = self._open.pop()
        entity["length"] = self._offset - entity["offset"]
        entity["url"] = url
        self.entities.append(entity)

    def _close_quote(self) -> None:
        if self._quote is not None:
            self._quote["length"] = self._offset - self._quote["offset"]
            self.entities.append(self._quote)
            self._quote = None

    def run(self) -> tuple[str, list[JsonDict]]:
        src = self._src
        while self._pos < len(src):
            char = src[self._pos]
            at_line_start = self._pos == 0 or src[self._pos - 1] == "\n"
            if char == "\\" and self._pos + 1 < len(src) and 0 < ord(src[self._pos + 1]) < 127:
                self._emit(src[self._pos + 1])
                self._pos += 2
                continue
            if char == "`":
                self._code()
                continue
            if char == "[":
                self._open.append(("[", {"type": "text_link", "offset": self._offset}))
            elif char == "]" and (not self._legacy or (self._open and self._open[-1][0] == "[")):
                self._link_end()
                continue
            elif char == "*":
                self._toggle("*", "bold")
            elif char == "_" and not self._legacy and src.startswith("__", self._pos):
                self._toggle("__", "underline")
                self._pos += 2
                continue
            elif char == "_":
                self._toggle("_", "italic")
            elif self._legacy:
                self._emit(char)
            elif char == "~":
                self._toggle("~", "strikethrough")
            elif char == "|" and src.startswith("||", self._pos):
                self._toggle("||", "spoiler")
                self._pos += 2
                continue
            elif char == ">" and at_line_start:
                if self._quote is None:
                    self._quote = {"type": "blockquote", "offset": self._offset}
            elif char in _MDV2_RESERVED:
                raise self._fail(f"Character '{char}' is reserved and must be escaped with the preceding '\\'")
            elif char == "\n":
                if self._quote is not None and not src.startswith(">", self._pos + 1):
                    self._close_quote()
                self._emit(char)
            else:
                self._emit(char)
            self._pos += 1
        self._close_quote()
        if self._open:
            marker, entity = self._open[-1]
            raise self._fail(f"Can't find end of {entity['type']} entity started by '{marker}'")
        return "".join(self._parts), _sorted_entities(self.entities)


def parse_markdown(source: str, *, legacy: bool = False) -> tuple[str, list[JsonDict]]:
    return _MarkdownToEntities(source, legacy=legacy).run()


def strip_text(text: str, entities: list[JsonDict]) -> tuple[str, list[JsonDict]]:
    """Trim surrounding whitespace as Telegram does, keeping entities pointing at the same characters."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    shift = utf16_len(text[: len(text) - len(text.lstrip())])
    limit = utf16_len(stripped)
    adjusted: list[JsonDict] = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, limit)
        if end > start:
            adjusted.append({**entity, "offset": start, "length": end - start})
    return stripped, adjusted


def format_text(text: str, parse_mode: str | None) -> tuple[str, list[JsonDict]]:
    """Apply a Bot API parse_mode; raises EntityParseError or ValueError for an unknown mode."""
    mode = (parse_mode or "").lower()
    if not mode:
        return text, []
    if mode == "html":
        return parse_html(text)
    if mode == "markdownv2":
        return parse_markdown(text)
    if mode == "markdown":
        return parse_markdown(text, legacy=True)
    raise ValueError("unsupported parse_mode")
