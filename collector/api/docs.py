"""``/docs`` without a CDN: Swagger UI served from the files of an installed package.

FastAPI's default page loads Swagger UI from jsdelivr, which a collector on a closed network cannot
reach. The ``swagger-ui-py`` package ships the Swagger UI distribution (5.x, which reads the
OpenAPI 3.1 documents FastAPI writes); its files are mounted at :data:`ASSETS`. Swagger UI's online
validator badge is turned off, so the page asks nothing of the internet.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS = "/docs"
ASSETS = "/docs/assets"  # open without a key, as /docs is (auth.py)
_OAUTH2_REDIRECT = "/docs/oauth2-redirect"


def _assets_dir() -> Path:
    spec = find_spec("swagger_ui")  # found, not imported: only its static files are used
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is not installed (a dependency of spendgate)")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def add_offline_docs(app: FastAPI) -> None:
    """Serve Swagger UI at ``/docs`` from local assets; the app is made with ``docs_url=None``."""
    app.mount(ASSETS, StaticFiles(directory=_assets_dir()), name="docs-assets")

    @app.get(DOCS, include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=root + (app.openapi_url or "/openapi.json"),
            title=f"{app.title} - API docs",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon-32x32.png",
            oauth2_redirect_url=root + _OAUTH2_REDIRECT,
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get(_OAUTH2_REDIRECT, include_in_schema=False)
    def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
