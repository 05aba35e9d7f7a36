"""Events in bulk: an Arrow table of the events table's columns, as the bus stores and announces them.

cost.recorded comes one per stored call, so its events are made column by column from the writer's
block (events/costs.py) and stored as one Arrow insert; the few other events come as records and
join the same form here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from spendgate.collector.events.record import Event

# The events table's columns without position, which the bus gives when it stores a batch.
SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("type", pa.string()),
        ("time", pa.timestamp("us", tz="UTC")),
        ("data", pa.string()),
    ]
)


def of_events(events: Sequence[Event]) -> pa.Table:
    columns = {
        "id": [e.id for e in events],
        "type": [e.type for e in events],
        "time": [e.time for e in events],
        "data": [json.dumps(e.data) for e in events],
    }
    return pa.table(columns, schema=SCHEMA)


def numbered(table: pa.Table, first: int) -> pa.Table:
    """The batch with positions ``first``, ``first + 1``, ... in its row order."""
    positions = np.arange(first, first + table.num_rows, dtype=np.uint64)
    return table.add_column(0, "position", pa.array(positions, pa.uint64()))


class Stored:
    """A numbered batch, once stored: what listeners are told."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table

    @cached_property
    def types(self) -> frozenset[str]:
        return frozenset(pc.unique(self.table.column("type")).to_pylist())

    @cached_property
    def events(self) -> list[Event]:
        """As records (made once, and only when a listener asks: the SSE streams)."""
        return [
            Event(row["id"], row["type"], row["time"], json.loads(row["data"]), row["position"])
            for row in self.table.to_pylist()
        ]
