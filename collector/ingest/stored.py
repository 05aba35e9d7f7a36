"""OTLP receivers: gRPC (``grpc_receiver``) and HTTP (``http_receiver``)."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future


async def wait_stored(waits: list[Future[None]], timeout: float) -> None:
    """Wait until the writer has stored every row of a request."""
    if waits:
        await asyncio.wait_for(asyncio.gather(*(asyncio.wrap_future(f) for f in waits)), timeout)
