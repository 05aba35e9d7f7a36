"""Events and webhook cursors in ClickHouse: what survives a restart until it is delivered."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import pyarrow as pa
from spendgate.collector.events.record import EVENTS, Event
from spendgate.collector.tables import Columns, Records, Table


@dataclass(frozen=True)
class _Position:
    position: int


@dataclass(frozen=True)
class _Cursor:
    position: int
    rows: int


@dataclass(frozen=True)
class CursorRow:
    webhook: str
    position: int
    updated_at: datetime


CURSORS = Table("event_cursors", CursorRow)
_POSITION = Columns(_Position)
_CURSOR = Columns(_Cursor)


class EventStorage(Records, Protocol):
    """Records, and Arrow blocks for batches of events and the calls behind them (``storage.Storage``)."""

    def insert_arrow(self, table: str, block: pa.Table, settings: Mapping[str, object]) -> None: ...
    def query_arrow(self, relative_path: str, parameters: Mapping[str, object]) -> pa.Table: ...


class EventStore:
    def __init__(self, storage: EventStorage) -> None:
        self._storage = storage

    def add(self, batch: pa.Table) -> None:
        """Store a numbered batch (events/batch.py) as one insert."""
        self._storage.insert_arrow(EVENTS.name, batch, {})

    def after(self, position: int, types: Sequence[str] = (), limit: int = 1000) -> list[Event]:
        """Stored events after ``position``, oldest first; of ``types`` (all when empty)."""
        parameters = {"after": position, "types": list(types), "limit": limit}
        return [stored.event() for stored in self._storage.records(EVENTS, "events/after.sql", parameters)]

    def last_position(self, type_: str = "") -> int:
        """The newest event's position (of one type, or of any); 0 when there is none."""
        return self._storage.records(_POSITION, "events/last_position.sql", {"type": type_})[0].position

    def cursor(self, webhook: str) -> int | None:
        """The position a webhook has acknowledged up to; None for a webhook never seen."""
        row = self._storage.records(_CURSOR, "events/cursor.sql", {"webhook": webhook})[0]
        return row.position if row.rows else None

    def set_cursor(self, webhook: str, position: int) -> None:
        self._storage.insert(CURSORS, [CursorRow(webhook, position, datetime.now(UTC))])
