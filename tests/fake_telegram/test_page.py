"""The chat page's structure: usable at phone width and following the newest message.

How it looks is checked by eye in a browser; these tests keep the parts that make it work from being lost.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import aiohttp
import pytest

from fake_telegram import FakeTelegram

NARROW = re.compile(r"@media\s*\(max-width:\s*(\d+)px\)\s*\{")


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.meta: dict[str, str] = {}
        self.style = ""
        self.script = ""
        self._inside: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if "id" in values:
            self.ids.add(values["id"])
        if tag == "meta" and "name" in values:
            self.meta[values["name"]] = values.get("content", "")
        if tag in ("style", "script"):
            self._inside = tag

    def handle_endtag(self, tag: str) -> None:
        if tag == self._inside:
            self._inside = None

    def handle_data(self, data: str) -> None:
        if self._inside == "style":
            self.style += data
        elif self._inside == "script":
            self.script += data


def _block(text: str, start: int) -> str:
    """The text between the brace at or after `start` and its matching closing brace."""
    opening = text.index("{", start)
    depth = 0
    for index in range(opening, len(text)):
        if text[index] == "{":
            depth += 1
        elif text[index] == "}":
            depth -= 1
            if depth == 0:
                return text[opening + 1 : index]
    raise AssertionError("unbalanced braces")


def _rules(css: str) -> dict[str, dict[str, str]]:
    """Plain `selector { name: value; ... }` rules (no nesting), comments removed; later rules add to earlier."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    rules: dict[str, dict[str, str]] = {}
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        declarations = {}
        for declaration in body.split(";"):
            if ":" in declaration:
                name, value = declaration.split(":", 1)
                declarations[name.strip()] = value.strip()
        for selector in selectors.split(","):
            rules.setdefault(" ".join(selector.split()), {}).update(declarations)
    return rules


def _function(script: str, name: str) -> str:
    found = re.search(rf"(?:async )?function {name}\(", script)
    assert found is not None, f"function {name} is missing"
    return _block(script, found.end())


@pytest.fixture
async def page(fake: FakeTelegram) -> _Page:
    async with aiohttp.ClientSession() as session, session.get(fake.page_url) as response:
        assert response.status == 200
        parsed = _Page()
        parsed.feed(await response.text())
    return parsed


def test_page_declares_a_device_width_viewport(page: _Page) -> None:
    assert page.meta["viewport"].replace(" ", "").split(",")[:2] == ["width=device-width", "initial-scale=1"]


def test_narrow_screens_fold_the_panel_and_keep_the_message_box(page: _Page) -> None:
    found = NARROW.search(page.style)
    assert found is not None, "no max-width media query"
    assert 390 < int(found.group(1)) <= 800
    narrow = _rules(_block(page.style, found.start()))
    wide = _rules(page.style[: found.start()] + page.style[found.start() + len(_block(page.style, found.start())) :])
    # The panel stacks above the chat and hides its details until the toggle opens it.
    assert narrow["main"]["flex-direction"] == "column"
    assert narrow["aside:not(.open) #userSection"]["display"] == "none"
    assert narrow["#panelToggle"]["display"] != "none"
    assert wide["#panelToggle"]["display"] == "none"
    # A flex child only scrolls inside its parent when it may shrink below its content.
    assert wide["#chat"]["min-height"] == "0"
    assert wide["#messages"]["overflow-y"] == "auto"
    assert "100dvh" in page.style
    assert {"panel", "panelToggle", "userSection", "botSection"} <= page.ids


def test_script_refers_only_to_elements_that_exist(page: _Page) -> None:
    referenced = set(re.findall(r"""\$\(["']([\w-]+)["']\)""", page.script))
    assert {"messages", "composer", "panelToggle"} <= referenced
    assert referenced - page.ids == set()


def test_sending_and_new_messages_scroll_to_the_newest(page: _Page) -> None:
    scroll = _function(page.script, "scrollToNewest")
    assert "scrollTop = list.scrollHeight" in scroll
    render = _function(page.script, "renderMessages")
    assert "newestId" in render
    assert "scrollToNewest()" in render
    assert "scrollToNewest()" in _function(page.script, "sendText")
    # Size changes (a phone keyboard opening, the panel unfolding) keep the newest message in view.
    assert re.search(r"new ResizeObserver\([^;]*scrollToNewest\(\)", page.script)
