"""The seed 004 API's envelope: ``{"success": true, "data": ...}`` with money as JSON numbers.

Seed 004's React examples call ``total_cost.toFixed(2)``, which a decimal string does not have, so
its routes answer with numbers. Each number is written from the native API's decimal string (the one
money formatter), digit for digit: simplejson writes a Decimal as a number without a trip through
float. The seed names no error envelope: errors stay the API's ``{"detail": ...}``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import simplejson
from fastapi import APIRouter
from fastapi.responses import JSONResponse

# A seed route: its path, the endpoint (answering with :func:`ok`) and its OpenAPI summary.
SeedRoute = tuple[str, Callable[..., "SeedResponse"], str]


class SeedResponse(JSONResponse):
    """JSON with Decimals written as numbers."""

    def render(self, content: Any) -> bytes:
        return simplejson.dumps(content, use_decimal=True, ensure_ascii=False, separators=(",", ":")).encode()


def ok(data: dict[str, Any], status_code: int = 200) -> SeedResponse:
    """A native answer (renamed to the seed's fields) in the seed's envelope."""
    return SeedResponse({"success": True, "data": data}, status_code=status_code)


def seed_router(prefix: str, method: str, routes: Iterable[SeedRoute]) -> APIRouter:
    """The router of seed 004's routes under ``prefix``, each answering in the envelope."""
    router = APIRouter(prefix=prefix, tags=["seed 004"], default_response_class=SeedResponse)
    for path, endpoint, summary in routes:
        router.add_api_route(path, endpoint, methods=[method], summary=summary)
    return router


def number(text: str | None) -> Decimal | None:
    """A decimal string of the native API as the number the seed shows (None stays null)."""
    return None if text is None else Decimal(text)


def seed_row(row: dict[str, Any], renamed: dict[str, str], numbers: Iterable[str]) -> dict[str, Any]:
    """A native JSON row with the seed's field names and its decimal strings as numbers."""
    decimals = set(numbers)
    return {renamed.get(key, key): number(value) if key in decimals else value for key, value in row.items()}
