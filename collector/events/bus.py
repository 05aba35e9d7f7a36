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
from typing import Protocol, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc
from spendgate.collector.events.batch import Stored, numbered, of_events
from spendgate.collector.events.record import Event
from spendgate.collector.events.store import EventStore

log = logging.getLogger(__name__)

# Events (records, or a batch: events/batch.py), or a function that makes them on the bus thread.
Made: TypeAlias = Sequence[Event] | pa.Table
Pending: TypeAlias = Made | Callable[[], Made]
Listener: TypeAlias = Callable[[Stored], None]
_MAX_PENDING = 1_000_000


class Publisher(Protocol):
    def publish(self, events: Pending) -> None:
        """Queue events for storage and delivery; never blocks, never raises."""
        ...


class EventBus:
    def __init__(self, store: EventStore, types: Sequence[str]) -> None:
        self._store = store
        self._types = pa.array(sorted(types), pa.string())
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
        batch: pa.Table | None = None
        while True:
            with self._wake:
                while not self._pending and batch is None and not self._stopping:
                    self._wake.wait()
            batch = self._drain(batch)
            if batch is None:
                return  # stopping, nothing left
            try:
                self._store.add(batch)
            except Exception as exc:
                self.stats["store_failures"] += 1
                if self._stopping:
                    log.error("%d events not stored at shutdown: %s", batch.num_rows, exc)
                    return
                log.warning("could not store %d events (%s); retrying in %.1fs", batch.num_rows, exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            delay = 0.1
            self.stats["published"] += batch.num_rows
            self._announce(Stored(batch))
            batch = None

    def _drain(self, batch: pa.Table | None) -> pa.Table | None:
        """``batch`` (numbered, not yet stored) with everything pending numbered after it."""
        tables = [] if batch is None else [batch]
        while self._pending:
            item = self._pending.popleft()
            try:
                made = item() if callable(item) else item
                table = made if isinstance(made, pa.Table) else of_events(made)
            except Exception:
                log.exception("events could not be made")
                continue
            table = table.filter(pc.is_in(table.column("type"), value_set=self._types))
            if table.num_rows:
                tables.append(self._numbered(table))
        return pa.concat_tables(tables) if tables else None

    def _numbered(self, table: pa.Table) -> pa.Table:
        # Microseconds since the epoch, strictly increasing across the restarts of this collector.
        first = max(self._last + 1, time.time_ns() // 1000)
        self._last = first + table.num_rows - 1
        return numbered(table, first)

    def _announce(self, stored: Stored) -> None:
        for listener in list(self._listeners):
            try:
                listener(stored)
            except Exception:
                log.exception("an event listener failed")
