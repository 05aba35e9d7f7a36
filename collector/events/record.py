"""The event record, its stored row and its CloudEvents 1.0 structured JSON form.

An event's ``id`` is what receivers deduplicate on (CloudEvents: source + id is unique); its
``position`` is its place in the stored stream (microseconds since the epoch, strictly increasing),
which the SSE stream sends as the ``id:`` line and resumes from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from spendgate.collector.event_config import EVENT_TYPES
from spendgate.collector.tables import Table

from spendgate.money import money_text

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
SPEC_VERSION = "1.0"

# A value in an event's data: money and other decimals are strings (never floats).
Value = str | int | bool | None


money = money_text  # event data writes amounts as the API does


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    time: datetime
    data: dict[str, Value]
    position: int = 0  # given by the bus when it stores the event

    def __post_init__(self) -> None:
        if self.type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {self.type!r}")

    def cloudevent(self, source: str) -> dict[str, Any]:
        """The structured JSON form (CloudEvents 1.0, JSON format)."""
        return {
            "specversion": SPEC_VERSION,
            "id": self.id,
            "source": source,
            "type": self.type,
            "time": self.time.isoformat().replace("+00:00", "Z"),
            "datacontenttype": "application/json",
            "data": self.data,
        }


@dataclass(frozen=True)
class StoredEvent:
    """A row of the events table."""

    position: int
    id: str
    type: str
    time: datetime
    data: str = field(repr=False)  # the data as JSON

    def event(self) -> Event:
        return Event(self.id, self.type, self.time, json.loads(self.data), self.position)


EVENTS = Table("events", StoredEvent)
