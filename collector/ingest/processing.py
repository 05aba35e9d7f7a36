"""The CPU-bound stage: request body -> decoded -> normalised -> priced -> an Arrow block of rows.

It is a pure function of the body, so the collector can run it in worker
processes (``processors.batch.workers``) while the main process only receives,
deduplicates and inserts. Across processes the block travels as Arrow IPC
bytes, which cost next to nothing to pass and to insert.
"""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from operator import attrgetter
from typing import NamedTuple

import pyarrow as pa
from spendgate.collector.config import PricingProcessor
from spendgate.collector.ingest import calls, otlp
from spendgate.collector.ingest.normalize import TimeBounds, UsageRecord, normalize_request
from spendgate.collector.ingest.pricer import PricedUsage, Pricer

from spendgate import dimensions, money

COST_SCALE = money.SCALE  # Decimal(38, 18) in llm_spans; the API writes amounts to the same places
_QUANTUM = Decimal(1).scaleb(-COST_SCALE)
_COST = pa.decimal128(38, COST_SCALE)
_TIME_US = pa.timestamp("us", tz="UTC")
_TIME_MS = pa.timestamp("ms", tz="UTC")
# The attribution dimensions, in their llm_spans column order, each stored in a column of its name.
_ATTRIBUTION = tuple(d.name for d in dimensions.ATTRIBUTED)
KEY_BYTES = calls.KEY_BYTES
LINK_BYTES = 48


@dataclass(frozen=True, slots=True)
class SpanBatch:
    """One request's accepted calls and their prices, in row order: what the columns are read from."""

    records: list[UsageRecord]
    priced: list[PricedUsage]
    received_at_ms: int


class Column(NamedTuple):
    """An llm_spans column: its name, the Arrow type it is sent as, and its values for a batch."""

    name: str
    type: pa.DataType
    values: Callable[[SpanBatch], Sequence[object]]


def _usage(name: str, type_: pa.DataType) -> Column:
    """The column holding the UsageRecord field of the same name."""
    get = attrgetter(name)
    return Column(name, type_, lambda batch: list(map(get, batch.records)))


def _priced(name: str, part: str, type_: pa.DataType = _COST) -> Column:
    """A column of the pricer's result (``part``: its field, dotted for a part of the cost)."""
    get = attrgetter(part)
    return Column(name, type_, lambda batch: list(map(get, batch.priced)))


def _attribution(name: str) -> Column:
    return Column(
        name, pa.string(), lambda batch: [record.attribution.get(name, "") for record in batch.records]
    )


def _start_us(batch: SpanBatch) -> list[int]:
    return [record.start_time_ns // 1000 for record in batch.records]


def _end_us(batch: SpanBatch) -> list[int]:
    return [record.end_time_ns // 1000 for record in batch.records]


def _received_ms(batch: SpanBatch) -> list[int]:
    return [batch.received_at_ms] * len(batch.records)


# llm_spans columns in insert order: the one place a column is named, typed and filled.
SPAN_COLUMNS: tuple[Column, ...] = (
    _usage("trace_id", pa.binary(16)),
    _usage("span_id", pa.binary(8)),
    _usage("parent_span_id", pa.binary(8)),
    Column("start_time", _TIME_US, _start_us),
    Column("end_time", _TIME_US, _end_us),
    Column("received_at", _TIME_MS, _received_ms),
    _usage("span_name", pa.string()),
    _usage("status_code", pa.string()),
    _usage("error_type", pa.string()),
    _usage("emitter", pa.string()),
    *(_attribution(name) for name in _ATTRIBUTION),
    _usage("provider", pa.string()),
    _usage("operation", pa.string()),
    _usage("request_model", pa.string()),
    _usage("response_model", pa.string()),
    _priced("priced_model", "priced_model", pa.string()),
    _priced("pricing_status", "status", pa.string()),
    _usage("usage_estimated", pa.bool_()),
    _usage("input_tokens", pa.uint64()),
    _usage("output_tokens", pa.uint64()),
    _usage("cache_read_tokens", pa.uint64()),
    _usage("cache_write_tokens", pa.uint64()),
    _usage("cache_write_1h_tokens", pa.uint64()),
    _usage("reasoning_tokens", pa.uint64()),
    _priced("input_cost", "cost.input"),
    _priced("cache_read_cost", "cost.cache_read"),
    _priced("cache_write_cost", "cost.cache_write"),
    _priced("output_cost", "cost.output"),
    _priced("total_cost", "cost.total"),
    _priced("cache_savings", "cost.cache_savings"),
    _attribution("reservation_id"),
    _usage("call_key", pa.binary(24)),
)
ARROW_SCHEMA = pa.schema([(column.name, column.type) for column in SPAN_COLUMNS])


@dataclass
class Processed:
    """What one export request yields: accepted rows and the reasons for the rest."""

    keys: bytes  # KEY_BYTES per accepted row, in row order
    # LINK_BYTES per accepted row: trace + span id, then trace + parent span id (see writer)
    links: bytes
    block: pa.Table | bytes | None  # Arrow table, or its IPC bytes when produced in a worker
    non_llm_spans: int = 0
    rejected_spans: int = 0
    duplicate_calls: int = 0
    errors: list[str] = field(default_factory=list)

    def writer_rows(self) -> tuple[list[bytes], list[tuple[bytes, bytes]]]:
        """Per accepted row: its call key, and its (trace + span id, trace + parent span id)."""
        keys, raw = self.keys, self.links
        half = LINK_BYTES // 2
        return (
            [keys[i : i + KEY_BYTES] for i in range(0, len(keys), KEY_BYTES)],
            [(raw[i : i + half], raw[i + half : i + LINK_BYTES]) for i in range(0, len(raw), LINK_BYTES)],
        )

    @property
    def accepted_spans(self) -> int:
        return len(self.keys) // KEY_BYTES

    def table(self) -> pa.Table | None:
        if isinstance(self.block, bytes):
            return pa.ipc.open_stream(self.block).read_all()
        return self.block


def _array(column: Column, values: Sequence[object]) -> pa.Array:
    try:
        return pa.array(values, column.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        if column.type != _COST:
            raise
        # A custom price with more than 18 decimals: round like ClickHouse would store it.
        return pa.array([_stored_cost(value) for value in values], _COST)


def _stored_cost(value: object) -> Decimal:
    assert isinstance(value, Decimal)  # cost columns hold the pricer's Decimals
    return value.quantize(_QUANTUM, ROUND_HALF_EVEN)


def build_block(batch: SpanBatch) -> pa.Table:
    """The batch as llm_spans rows, built column by column."""
    arrays = [_array(column, column.values(batch)) for column in SPAN_COLUMNS]
    return pa.Table.from_arrays(arrays, schema=ARROW_SCHEMA)


def decode(body: bytes, content_type: str) -> otlp.JsonDecoded:
    """The request, with the parts of an OTLP/JSON body that did not decode."""
    if content_type == "json":
        return otlp.decode_json(body)
    return otlp.JsonDecoded(otlp.decode_protobuf(body))


def process(
    body: bytes, content_type: str, pricer: Pricer, bounds: TimeBounds | None = None, serialize: bool = False
) -> Processed:
    """Decode, normalise and price one export request (``content_type``: "protobuf" or "json").

    Raises otlp.BadRequest when the body cannot be decoded at all.
    """
    decoded = decode(body, content_type)
    normalized = normalize_request(decoded.request, bounds)
    records = normalized.records
    priced = list(map(pricer.price, records))
    block: pa.Table | bytes | None = None
    if records:
        table = build_block(SpanBatch(records, priced, time.time_ns() // 1_000_000))
        block = _ipc_bytes(table) if serialize else table
    return Processed(
        keys=b"".join(record.call_key for record in records),
        links=b"".join(r.trace_id + r.span_id + r.trace_id + r.parent_span_id for r in records),
        block=block,
        non_llm_spans=normalized.non_llm_spans,
        rejected_spans=normalized.rejected_spans + decoded.rejected_spans,
        duplicate_calls=normalized.duplicate_calls,
        errors=decoded.errors + normalized.errors,
    )


def _ipc_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


# -- worker processes -------------------------------------------------------------------------------

_worker_pricer: Pricer | None = None
_worker_bounds: TimeBounds | None = None


def init_worker(pricing: PricingProcessor, bounds: TimeBounds | None = None) -> None:
    global _worker_pricer, _worker_bounds
    _worker_pricer = Pricer(pricing)
    _worker_bounds = bounds
    # The catalogue and modules live as long as the worker: keep them out of every
    # collection, and collect less often; each request makes many short-lived objects.
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    # A collector killed with SIGKILL cannot stop its pool: leave with it rather than linger.
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def process_in_worker(body: bytes, content_type: str) -> Processed:
    assert _worker_pricer is not None, "init_worker was not run"
    return process(body, content_type, _worker_pricer, _worker_bounds, serialize=True)
