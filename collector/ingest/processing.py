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
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pyarrow as pa
from spendgate.collector.config import PricingProcessor
from spendgate.collector.ingest import calls, otlp
from spendgate.collector.ingest.normalize import TimeBounds, normalize_request
from spendgate.collector.ingest.pricer import Pricer

from spendgate import dimensions

COST_SCALE = 18  # Decimal(38, 18) in llm_spans
_QUANTUM = Decimal(1).scaleb(-COST_SCALE)
_COST = pa.decimal128(38, COST_SCALE)
_TIME_US = pa.timestamp("us", tz="UTC")

# llm_spans columns in insert order, with the Arrow type each is sent as.
ARROW_SCHEMA = pa.schema(
    [
        ("trace_id", pa.binary(16)),
        ("span_id", pa.binary(8)),
        ("parent_span_id", pa.binary(8)),
        ("start_time", _TIME_US),
        ("end_time", _TIME_US),
        ("received_at", pa.timestamp("ms", tz="UTC")),
        ("span_name", pa.string()),
        ("status_code", pa.string()),
        ("error_type", pa.string()),
        ("emitter", pa.string()),
        ("service", pa.string()),
        ("environment", pa.string()),
        ("project", pa.string()),
        ("ticket", pa.string()),
        ("task", pa.string()),
        ("phase", pa.string()),
        ("agent", pa.string()),
        ("agent_type", pa.string()),
        ("run", pa.string()),
        ("user", pa.string()),
        ("team", pa.string()),
        ("provider", pa.string()),
        ("operation", pa.string()),
        ("request_model", pa.string()),
        ("response_model", pa.string()),
        ("priced_model", pa.string()),
        ("pricing_status", pa.string()),
        ("usage_estimated", pa.bool_()),
        ("input_tokens", pa.uint64()),
        ("output_tokens", pa.uint64()),
        ("cache_read_tokens", pa.uint64()),
        ("cache_write_tokens", pa.uint64()),
        ("cache_write_1h_tokens", pa.uint64()),
        ("reasoning_tokens", pa.uint64()),
        ("input_cost", _COST),
        ("cache_read_cost", _COST),
        ("cache_write_cost", _COST),
        ("output_cost", _COST),
        ("total_cost", _COST),
        ("cache_savings", _COST),
        ("reservation_id", pa.string()),
        ("call_key", pa.binary(24)),
    ]
)
COLUMNS = tuple(ARROW_SCHEMA.names)
# The attribution dimensions, in the order of their columns in ARROW_SCHEMA.
_ATTRIBUTION = tuple(d.name for column in COLUMNS for d in dimensions.ATTRIBUTED if d.column == column)
KEY_BYTES = calls.KEY_BYTES
LINK_BYTES = 48


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


def _cost_array(values: list[Decimal]) -> pa.Array:
    try:
        return pa.array(values, _COST)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # A custom price with more than 18 decimals: round like ClickHouse would store it.
        return pa.array([value.quantize(_QUANTUM, ROUND_HALF_EVEN) for value in values], _COST)


def build_block(rows: list[tuple[Any, ...]]) -> pa.Table:
    columns = list(zip(*rows, strict=True))
    arrays = []
    for index, column in enumerate(ARROW_SCHEMA):
        values = list(columns[index])
        arrays.append(_cost_array(values) if column.type == _COST else pa.array(values, column.type))
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
    received_at_us = time.time_ns() // 1_000
    rows = []
    keys = []
    links = []
    price = pricer.price
    for record in normalized.records:
        priced = price(record)
        cost = priced.cost
        attribution = record.attribution
        keys.append(record.call_key)
        links.append(record.trace_id + record.span_id + record.trace_id + record.parent_span_id)
        rows.append(
            (
                record.trace_id,
                record.span_id,
                record.parent_span_id,
                record.start_time_ns // 1000,
                record.end_time_ns // 1000,
                received_at_us // 1000,
                record.span_name,
                record.status_code,
                record.error_type,
                record.emitter,
                *[attribution.get(name, "") for name in _ATTRIBUTION],
                record.provider,
                record.operation,
                record.request_model,
                record.response_model,
                priced.priced_model,
                priced.status,
                record.usage_estimated,
                record.input_tokens,
                record.output_tokens,
                record.cache_read_tokens,
                record.cache_write_tokens,
                record.cache_write_1h_tokens,
                record.reasoning_tokens,
                cost.input,
                cost.cache_read,
                cost.cache_write,
                cost.output,
                cost.total,
                cost.cache_savings,
                attribution.get("reservation_id", ""),
                record.call_key,
            )
        )
    block: pa.Table | bytes | None = None
    if rows:
        table = build_block(rows)
        block = _ipc_bytes(table) if serialize else table
    return Processed(
        keys=b"".join(keys),
        links=b"".join(links),
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
