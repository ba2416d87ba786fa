"""/openapi.json and /docs: the API description, generated from the same declarations that register the routes."""

from __future__ import annotations

import json
from importlib import resources

from aiohttp import web

from webserver.api import Api


def register_docs(app: web.Application, api: Api) -> None:
    spec = json.dumps(api.openapi(), ensure_ascii=False)
    page = resources.files("webserver").joinpath("static/docs.html").read_text(encoding="utf-8")

    async def openapi_json(request: web.Request) -> web.StreamResponse:
        return web.Response(text=spec, content_type="application/json")

    async def docs_page(request: web.Request) -> web.StreamResponse:
        return web.Response(text=page, content_type="text/html")

    for path in ("/openapi.json",):
        app.router.add_get(path, openapi_json)
    for path in ("/docs", "/docs/"):
        app.router.add_get(path, docs_page)
