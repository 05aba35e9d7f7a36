"""Size limits on request lines and headers, answered as HTTP says rather than by a reset.

The HTTP parser buffers at most ``MAX_HEAD_BYTES`` of a request head; within that, a query
string longer than ``MAX_QUERY_BYTES`` gets 414 and headers larger than ``MAX_HEADER_BYTES``
get 431, after the whole head was read, so the client sees the answer instead of a reset.
"""

from __future__ import annotations

import json
from typing import Any

MAX_QUERY_BYTES = 16 * 1024
MAX_HEADER_BYTES = 64 * 1024
MAX_HEAD_BYTES = 4 * 1024 * 1024  # beyond this the parser refuses the request (400) and closes

UVICORN_OPTIONS: dict[str, Any] = {"h11_max_incomplete_event_size": MAX_HEAD_BYTES}


class RequestLimits:
    """ASGI middleware: 414 for an over-long query string, 431 for over-large headers."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            problem = _problem(scope)
            if problem is not None:
                await _refuse(send, *problem)
                return
        await self.app(scope, receive, send)


def _problem(scope: dict[str, Any]) -> tuple[int, str] | None:
    query = scope.get("query_string", b"")
    if len(query) > MAX_QUERY_BYTES:
        return 414, f"the query string is {len(query)} bytes; the limit is {MAX_QUERY_BYTES}"
    size = sum(len(name) + len(value) + 4 for name, value in scope.get("headers", ()))
    if size > MAX_HEADER_BYTES:
        return 431, f"the request headers are {size} bytes; the limit is {MAX_HEADER_BYTES}"
    return None


async def _refuse(send: Any, status: int, message: str) -> None:
    body = json.dumps({"code": status, "message": message}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
