"""The events wing wired together: the store, the bus, a delivery per webhook, live SSE feeds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Sequence

from spendgate.collector.event_config import EventsExtension
from spendgate.collector.events.batch import Stored
from spendgate.collector.events.bus import EventBus
from spendgate.collector.events.record import Event
from spendgate.collector.events.recovery import unannounced_calls
from spendgate.collector.events.store import EventStorage, EventStore
from spendgate.collector.events.webhooks import WebhookDelivery

log = logging.getLogger(__name__)
_FEED_LIMIT = 10_000  # batches a slow SSE client may fall behind before its stream is closed


class Feed:
    """Stored events as they are announced, for one SSE stream (on its event loop)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.queue: asyncio.Queue[Sequence[Event] | None] = asyncio.Queue()

    def __call__(self, stored: Stored) -> None:  # on the bus thread
        self._loop.call_soon_threadsafe(self._put, stored.events)

    def end(self) -> None:
        self._loop.call_soon_threadsafe(self.queue.put_nowait, None)

    def _put(self, events: Sequence[Event]) -> None:
        # Too far behind: end the stream; the client resumes from its Last-Event-ID.
        self.queue.put_nowait(None if self.queue.qsize() >= _FEED_LIMIT else events)


class EventService:
    def __init__(self, storage: EventStorage, settings: EventsExtension) -> None:
        self.settings = settings
        self._storage = storage
        self.store = EventStore(storage)
        self.bus = EventBus(self.store, settings.published)
        self.deliveries = [WebhookDelivery(w, self.store, settings.source) for w in settings.webhooks]
        for delivery in self.deliveries:
            self.bus.add_listener(delivery.notify)
        self._feeds: set[Feed] = set()

    def start(self) -> None:
        """Before the receivers start: calls stored without their event get it first."""
        if "cost.recorded" in self.settings.published and (
            missing := unannounced_calls(self._storage, self.store)
        ):
            self.bus.publish(missing)
        self.bus.start()
        for delivery in self.deliveries:
            delivery.start()

    @contextlib.contextmanager
    def feed(self) -> Iterator[Feed]:
        feed = Feed(asyncio.get_running_loop())
        self.bus.add_listener(feed)
        self._feeds.add(feed)
        try:
            yield feed
        finally:
            self._feeds.discard(feed)
            self.bus.remove_listener(feed)

    def end_streams(self) -> None:
        """End every SSE stream (at shutdown: the HTTP server waits for open responses)."""
        for feed in list(self._feeds):
            feed.end()

    @property
    def stats(self) -> dict[str, object]:
        return {"bus": self.bus.stats, "webhooks": {d.webhook.key: d.stats for d in self.deliveries}}

    def close(self) -> None:
        self.bus.stop()  # stores what is queued first, so the deliveries have it after a restart
        for delivery in self.deliveries:
            delivery.stop()
