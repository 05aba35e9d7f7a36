"""The seed 004 API's envelope: ``{"success": true, "data": ...}`` with money as JSON numbers.

Seed 004's React examples call ``total_cost.toFixed(2)``, which a decimal string does not have, so
its routes answer with numbers. Each number is written from the native API's decimal string (the one
money formatter), digit for digit: simplejson writes a Decimal as a number without a trip through
float. The seed names no error envelope: errors stay the API's ``{"detail": ...}``.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import simplejson
from fastapi.responses import JSONResponse


class SeedResponse(JSONResponse):
    """JSON with Decimals written as numbers."""

    def render(self, content: Any) -> bytes:
        return simplejson.dumps(content, use_decimal=True, ensure_ascii=False, separators=(",", ":")).encode()


def ok(data: dict[str, Any], status_code: int = 200) -> SeedResponse:
    return SeedResponse({"success": True, "data": data}, status_code=status_code)


def number(text: str | None) -> Decimal | None:
    """A decimal string of the native API as the number the seed shows (None stays null)."""
    return None if text is None else Decimal(text)


def seed_row(row: dict[str, Any], renamed: dict[str, str], numbers: Iterable[str]) -> dict[str, Any]:
    """A native JSON row with the seed's field names and its decimal strings as numbers."""
    decimals = set(numbers)
    return {renamed.get(key, key): number(value) if key in decimals else value for key, value in row.items()}
