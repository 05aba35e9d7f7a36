"""At start-up: cost.recorded for the calls stored without one.

The writer's insert and the bus's store of its events are two steps; a collector killed between
them (or an insert the reconciler replayed, which never passes the writer) leaves calls in
llm_spans with no event. Calls received since shortly before the newest cost.recorded event are
compared with the stored events by id, and the missing ones are published with the same ids a
normal run gives them. With no cost.recorded stored yet there is nothing to compare against.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pyarrow as pa
from spendgate.collector.events.costs import cost_recorded
from spendgate.collector.events.store import EventStorage, EventStore

log = logging.getLogger(__name__)
_MARGIN_US = 10 * 60 * 1_000_000  # an insert is stored well within this of its rows' arrival
_STRINGS = ("task", "agent", "provider", "response_model", "request_model")


def _span_types(block: pa.Table) -> pa.Table:
    """The columns as the writer's blocks have them (Arrow output may give bytes or dictionaries)."""
    for name in _STRINGS:
        column = block.column(name)
        if column.type != pa.string():
            block = block.set_column(block.schema.get_field_index(name), name, column.cast(pa.string()))
    return block


def unannounced_calls(storage: EventStorage, store: EventStore) -> pa.Table | None:
    """The cost.recorded events missing from the store (events/batch.py form), or None."""
    newest = store.last_position("cost.recorded")
    if not newest:
        return None
    since = newest - _MARGIN_US
    parameters = {"since": datetime.fromtimestamp(since / 1e6, UTC), "since_position": since}
    block = storage.query_arrow("events/unannounced_calls.sql", parameters)
    if not block.num_rows:
        return None
    log.warning("events: %d stored calls had no cost.recorded event; publishing them now", block.num_rows)
    return cost_recorded(_span_types(block.combine_chunks()))
