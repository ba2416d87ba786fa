"""/openapi.json and /docs: the API description, generated from the same declarations that register the routes.

/docs is Swagger UI, served from the files of the `swagger_ui_bundle` package under /docs/static/ (nothing is
fetched from elsewhere at run time), started by webserver/static/docs.js against /openapi.json. "Try it out"
sends real requests to this server; "Authorize" takes an access token for the bearerAuth scheme.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from aiohttp import web

from webserver.api import Api

ASSETS_PREFIX = "/docs/static"
# Same origin only, no inline script or style. data: images are admitted because Swagger UI's stylesheet draws
# its arrow and copy icons as data: SVGs; they load nothing from anywhere.
DOCS_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def swagger_ui_directory() -> Path:
    """The directory of Swagger UI's built files inside the installed `swagger_ui_bundle` package."""
    vendor = resources.files("swagger_ui_bundle").joinpath("vendor")
    if not isinstance(vendor, Path):
        raise RuntimeError("swagger_ui_bundle must be installed as files on disk to be served")
    found = sorted(path for path in vendor.glob("swagger-ui-*") if (path / "swagger-ui-bundle.js").is_file())
    if not found:
        raise RuntimeError(f"no Swagger UI build found in {vendor}")
    return found[-1]


def register_docs(app: web.Application, api: Api) -> None:
    spec = json.dumps(api.openapi(), ensure_ascii=False)
    static = resources.files("webserver").joinpath("static")
    page = static.joinpath("docs.html").read_text(encoding="utf-8")
    script = static.joinpath("docs.js").read_text(encoding="utf-8")

    async def openapi_json(request: web.Request) -> web.StreamResponse:
        return web.Response(text=spec, content_type="application/json")

    async def docs_page(request: web.Request) -> web.StreamResponse:
        return web.Response(text=page, content_type="text/html", headers={"Content-Security-Policy": DOCS_POLICY})

    async def docs_script(request: web.Request) -> web.StreamResponse:
        return web.Response(text=script, content_type="text/javascript")

    for path in ("/openapi.json",):
        app.router.add_get(path, openapi_json)
    for path in ("/docs", "/docs/"):
        app.router.add_get(path, docs_page)
    app.router.add_get("/docs/explorer.js", docs_script)
    app.router.add_static(ASSETS_PREFIX, swagger_ui_directory())
