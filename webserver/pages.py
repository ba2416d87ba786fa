"""The browser pages the route modules serve from webserver/static (the /link and /profiles/add forms): their
Content-Security-Policy and their shared stylesheet, served at STYLESHEET_PATH."""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from importlib import resources

from aiohttp import web

STYLESHEET_PATH = "/static/app.css"

_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)


def static_text(name: str) -> str:
    return resources.files("webserver").joinpath("static", name).read_text(encoding="utf-8")


@functools.lru_cache(maxsize=8)
def page_with_policy(name: str) -> tuple[str, str]:
    """The page and a Content-Security-Policy that admits exactly its own inline script, the stylesheets of this
    origin and its own inline style, if it keeps one for rules of its own."""
    page = static_text(name)

    def digest(found: re.Match[str]) -> str:
        value = base64.b64encode(hashlib.sha256(found.group(1).encode("utf-8")).digest()).decode("ascii")
        return f"'sha256-{value}'"

    script = _SCRIPT.search(page)
    style = _STYLE.search(page)
    script_src = digest(script) if script is not None else "'none'"
    style_src = "'self'" if style is None else f"'self' {digest(style)}"
    policy = (
        f"default-src 'none'; script-src {script_src}; style-src {style_src}; connect-src 'self'; "
        "form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
    return page, policy


def register_stylesheet(app: web.Application) -> None:
    # A static asset, not an API operation: registered beside the documented routes, like the /docs assets.
    stylesheet = static_text("app.css")

    async def app_css(request: web.Request) -> web.StreamResponse:
        return web.Response(text=stylesheet, content_type="text/css")

    app.router.add_get(STYLESHEET_PATH, app_css)
