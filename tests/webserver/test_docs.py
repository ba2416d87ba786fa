"""/docs: Swagger UI served from this server alone, under a strict Content-Security-Policy, over /openapi.json."""

from __future__ import annotations

from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from pytest_aiohttp import AiohttpClient

from core.clock import ManualClock
from storage.kv import MemoryStore
from tests.helpers.app import Client, make_container
from webserver.app import create_app
from webserver.keys import WebConfig
from webserver.routes.docs import swagger_ui_directory

CONTENT_TYPES = {
    ".js": {"text/javascript", "application/javascript"},
    ".css": {"text/css"},
    ".png": {"image/png"},
}


class _Assets(HTMLParser):
    """The URLs a page loads (scripts, stylesheets, icons) and the text of any inline script."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[str] = []
        self.handlers: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.handlers.extend(name for name, _ in attrs if name.startswith("on"))
        if tag == "script":
            self._in_script = True
            if values.get("src"):
                self.urls.append(str(values["src"]))
        elif tag == "link" and values.get("href"):
            self.urls.append(str(values["href"]))
        elif tag == "img" and values.get("src"):
            self.urls.append(str(values["src"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts.append(data)


def _policy(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


@pytest.fixture
async def client(tmp_path: Path, aiohttp_client: AiohttpClient) -> AsyncIterator[Client]:
    # The docs do not touch the key-value store, so the in-process one is enough.
    container = await make_container(tmp_path, MemoryStore(), ManualClock())
    app = create_app(
        container=container,
        config=WebConfig(version="9.9.9", mode="local", max_body_bytes=64 * 1024),
    )
    yield await aiohttp_client(app)
    await container.close()
    await container.db.dispose()


async def _page_assets(client: Client, path: str = "/docs") -> tuple[_Assets, dict[str, list[str]]]:
    response = await client.get(path)
    assert response.status == 200
    assert response.content_type == "text/html"
    parser = _Assets()
    parser.feed(await response.text())
    return parser, _policy(response.headers["Content-Security-Policy"])


@pytest.mark.parametrize("path", ["/docs", "/docs/"])
async def test_page_loads_only_same_origin_assets(client: Client, path: str) -> None:
    assets, _ = await _page_assets(client, path)
    assert assets.inline_scripts == []
    assert assets.handlers == []
    for url in assets.urls:
        parts = urlsplit(url)
        assert not parts.scheme, url
        assert not parts.netloc, url
        assert url.startswith("/"), url
    scripts = [url for url in assets.urls if url.endswith(".js")]
    assert "/docs/static/swagger-ui-bundle.js" in scripts
    assert "/docs/explorer.js" in scripts
    assert "/docs/static/swagger-ui.css" in assets.urls


async def test_policy_admits_this_origin_only(client: Client) -> None:
    _, policy = await _page_assets(client)
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    for name, values in policy.items():
        for value in values:
            assert value in {"'self'", "'none'"} or (name == "img-src" and value == "data:"), f"{name} {value}"


async def test_every_referenced_asset_is_served(client: Client) -> None:
    assets, _ = await _page_assets(client)
    assert assets.urls
    for url in assets.urls:
        response = await client.get(url)
        assert response.status == 200, url
        suffix = Path(urlsplit(url).path).suffix
        assert response.content_type in CONTENT_TYPES[suffix], (url, response.content_type)
        body = await response.read()
        assert len(body) > 0, url
        assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_explorer_script_points_at_this_servers_spec(client: Client) -> None:
    script = await (await client.get("/docs/explorer.js")).text()
    assert 'url: "/openapi.json"' in script
    assert "http://" not in script
    assert "https://" not in script
    # Swagger UI's default validator badge would call a third-party service.
    assert "validatorUrl: null" in script


async def test_openapi_still_answers_with_bearer_scheme(client: Client) -> None:
    response = await client.get("/openapi.json")
    assert response.status == 200
    assert response.content_type == "application/json"
    spec = await response.json()
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert spec["paths"]["/api/v1/users/me"]["get"]["security"] == [{"bearerAuth": []}]


async def test_bundle_renders_the_specs_openapi_version(client: Client) -> None:
    spec = await (await client.get("/openapi.json")).json()
    major = int(swagger_ui_directory().name.removeprefix("swagger-ui-").split(".")[0])
    # Swagger UI 4 refuses OpenAPI 3.1 documents ("Unable to render this definition").
    if spec["openapi"].startswith("3.1"):
        assert major >= 5
