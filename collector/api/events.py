"""GET /api/v1/events: the event stream as Server-Sent Events.

Each message is one CloudEvent (structured JSON) with ``id:`` its stream position and ``event:`` its
type. ``types=`` (comma-separated) filters; a ``Last-Event-ID`` header (or ``last_event_id=``)
replays the stored events after that position first, then goes live, with nothing missed or repeated.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence

from fastapi import APIRouter, Header, HTTPException, Query
from fastapi.responses import StreamingResponse
from spendgate.collector.event_config import EVENT_TYPES
from spendgate.collector.events.record import Event
from spendgate.collector.events.service import EventService, Feed

_KEEPALIVE_S = 15.0
_PAGE = 1000


def _message(event: Event, source: str) -> str:
    data = json.dumps(event.cloudevent(source), separators=(",", ":"))
    return f"id: {event.position}\nevent: {event.type}\ndata: {data}\n\n"


def _types(types: str) -> list[str]:
    chosen = [kind.strip() for kind in types.split(",") if kind.strip()]
    if unknown := [kind for kind in chosen if kind not in EVENT_TYPES]:
        raise HTTPException(400, f"unknown event type {unknown[0]!r} (known: {', '.join(EVENT_TYPES)})")
    return chosen


def _position(last_event_id: str | None) -> int | None:
    if last_event_id is None or last_event_id == "":
        return None
    if not last_event_id.isdigit():
        raise HTTPException(400, f"Last-Event-ID {last_event_id!r} is not an event id of this stream")
    return int(last_event_id)


async def _stream(
    service: EventService, feed: Feed, types: list[str], after: int | None
) -> AsyncIterator[str]:
    source = service.settings.source
    if after is not None:  # replay, after subscribing: what is stored meanwhile comes from the feed too
        while page := await asyncio.to_thread(service.store.after, after, types, _PAGE):
            for event in page:
                yield _message(event, source)
            after = page[-1].position
            if len(page) < _PAGE:
                break
    yield ": live\n\n"
    while True:
        try:
            events: Sequence[Event] | None = await asyncio.wait_for(feed.queue.get(), _KEEPALIVE_S)
        except TimeoutError:
            yield ": keep-alive\n\n"
            continue
        if events is None:
            return
        for event in events:
            if (after is None or event.position > after) and (not types or event.type in types):
                yield _message(event, source)


def build_router(service: EventService) -> APIRouter:
    router = APIRouter()

    @router.get("/api/v1/events")
    async def events(
        types: str = "",
        last_event_id: str | None = Query(default=None),
        last_event_id_header: str | None = Header(default=None, alias="Last-Event-ID"),
    ) -> StreamingResponse:
        """Server-Sent Events: one CloudEvent a message; ``Last-Event-ID`` replays what was missed."""
        chosen = _types(types)
        after = _position(last_event_id_header if last_event_id_header is not None else last_event_id)

        async def body() -> AsyncIterator[str]:
            with service.feed() as feed:
                async for message in _stream(service, feed, chosen, after):
                    yield message

        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(body(), media_type="text/event-stream", headers=headers)

    return router
