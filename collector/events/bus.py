"""The event bus: publishing is a deque append; one thread numbers, stores and then announces.

An event is announced (to webhook deliverers and SSE streams) only once it is stored, so whatever a
listener saw can be read back after a restart. A failed store is retried until it succeeds or the
collector stops; what is still unstored at a stop is logged as lost.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Protocol

from spendgate.collector.events.record import Event
from spendgate.collector.events.store import EventStore

log = logging.getLogger(__name__)

# Events, or a function that makes them on the bus thread (work kept off the caller's path).
Pending = Sequence[Event] | Callable[[], Sequence[Event]]
Listener = Callable[[Sequence[Event]], None]
_MAX_PENDING = 1_000_000


class Publisher(Protocol):
    def publish(self, events: Pending) -> None:
        """Queue events for storage and delivery; never blocks, never raises."""
        ...


class EventBus:
    def __init__(self, store: EventStore, types: Sequence[str]) -> None:
        self._store = store
        self._types = frozenset(types)
        self._pending: deque[Pending] = deque()
        self._wake = threading.Condition()
        self._listeners: list[Listener] = []
        self._stopping = False
        self._last = store.last_position()
        self._thread = threading.Thread(target=self._run, name="spendgate-events", daemon=True)
        self.stats = {"published": 0, "dropped": 0, "store_failures": 0}

    def start(self) -> None:
        self._thread.start()

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def publish(self, events: Pending) -> None:
        if len(self._pending) >= _MAX_PENDING:
            self.stats["dropped"] += 1
            return
        self._pending.append(events)
        with self._wake:
            self._wake.notify()

    def stop(self, timeout: float = 10.0) -> None:
        """Store what is queued, then stop."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        delay = 0.1
        batch: list[Event] = []
        while True:
            with self._wake:
                while not self._pending and not batch and not self._stopping:
                    self._wake.wait()
            batch.extend(self._drain())
            if not batch:
                return  # stopping, nothing left
            try:
                self._store.add(batch)
            except Exception as exc:
                self.stats["store_failures"] += 1
                if self._stopping:
                    log.error("%d events not stored at shutdown: %s", len(batch), exc)
                    return
                log.warning("could not store %d events (%s); retrying in %.1fs", len(batch), exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            delay = 0.1
            self.stats["published"] += len(batch)
            self._announce(batch)
            batch = []

    def _drain(self) -> list[Event]:
        events: list[Event] = []
        while self._pending:
            item = self._pending.popleft()
            try:
                made = item() if callable(item) else item
            except Exception:
                log.exception("events could not be made")
                continue
            events.extend(self._numbered(e) for e in made if e.type in self._types)
        return events

    def _numbered(self, event: Event) -> Event:
        # Microseconds since the epoch, strictly increasing across the restarts of this collector.
        self._last = max(self._last + 1, time.time_ns() // 1000)
        return replace(event, position=self._last)

    def _announce(self, events: list[Event]) -> None:
        for listener in list(self._listeners):
            try:
                listener(events)
            except Exception:
                log.exception("an event listener failed")
