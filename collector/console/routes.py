"""Serve the web console: ``/costs`` (the page), ``/costs/static/*`` (its CSS and JS), ``/`` -> ``/costs``.

The files ship as package data (pyproject's ``spendgate.collector.console``), so an installed
collector serves them offline. They hold no data: the page's scripts read the API with the user's key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from spendgate.collector.api.auth import CONSOLE_PAGE, CONSOLE_STATIC

STATIC = Path(__file__).resolve().parent / "static"
Tab = Literal["overview", "records", "budgets", "forecast", "insights"]


def mount(app: FastAPI, api_keys: bool) -> None:
    """Add the console's routes and static files to ``app``; ``api_keys``: the API needs a key."""
    router = APIRouter(include_in_schema=False)

    @router.get(CONSOLE_STATIC + "settings.json")
    def settings() -> dict[str, bool]:
        # Lets the page ask for a key up front instead of after refused requests.
        return {"api_keys": api_keys}

    @router.get("/")
    def root() -> RedirectResponse:
        return RedirectResponse(CONSOLE_PAGE)

    @router.get(CONSOLE_PAGE)
    def page(tab: Tab | None = None) -> FileResponse:
        # The tab is the page's to read (the seeds link /costs?tab=records); declared, so it is known.
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.include_router(router)
    app.mount(CONSOLE_STATIC.rstrip("/"), StaticFiles(directory=STATIC), name="console-static")
