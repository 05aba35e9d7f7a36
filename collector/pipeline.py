"""The traces pipeline: decoded request -> normalised -> priced -> queued rows.

Receivers call :meth:`TracesPipeline.consume` and wait for the returned
futures before acknowledging; nothing here depends on the wire protocol.
"""

from __future__ import annotations

import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from .normalize import UsageRecord, normalize_request
from .pricing import PricedUsage, Pricer
from .writer import SpanWriter


@dataclass
class ConsumeResult:
    accepted_spans: int
    non_llm_spans: int
    rejected_spans: int
    errors: list[str]
    waits: list[Future[None]] = field(default_factory=list)


def to_row(record: UsageRecord, priced: PricedUsage, received_at_ms: int) -> tuple[Any, ...]:
    """One llm_spans row, in writer.COLUMNS order."""
    a = record.attribution
    cost = priced.cost
    return (
        record.trace_id,
        record.span_id,
        record.parent_span_id,
        record.start_time_ns // 1000,
        record.end_time_ns // 1000,
        received_at_ms,
        record.span_name,
        record.status_code,
        record.error_type,
        record.emitter,
        a.get("service", ""),
        a.get("environment", ""),
        a.get("project", ""),
        a.get("ticket", ""),
        a.get("task", ""),
        a.get("phase", ""),
        a.get("agent", ""),
        a.get("agent_type", ""),
        a.get("run", ""),
        a.get("user", ""),
        a.get("team", ""),
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
        record.reasoning_tokens,
        cost.input,
        cost.cache_read,
        cost.cache_write,
        cost.output,
        cost.total,
    )


class TracesPipeline:
    def __init__(self, pricer: Pricer, writer: SpanWriter) -> None:
        self.pricer = pricer
        self.writer = writer
        self.stats = {"requests": 0, "llm_spans": 0, "non_llm_spans": 0, "rejected_spans": 0}

    def consume(self, request: Any, decode_errors: list[str] | None = None) -> ConsumeResult:
        """Normalise, price and queue one export request.

        Raises writer.Backpressure when storage is behind; nothing is queued then.
        """
        normalized = normalize_request(request)
        errors = list(decode_errors or ()) + normalized.errors
        rejected = normalized.rejected_spans + len(decode_errors or ())
        received_at_ms = time.time_ns() // 1_000_000
        price = self.pricer.price
        keys = [record.key for record in normalized.records]
        rows = [to_row(record, price(record), received_at_ms) for record in normalized.records]
        waits = self.writer.submit(keys, rows) if rows else []
        self.stats["requests"] += 1
        self.stats["llm_spans"] += len(rows)
        self.stats["non_llm_spans"] += normalized.non_llm_spans
        self.stats["rejected_spans"] += rejected
        return ConsumeResult(len(rows), normalized.non_llm_spans, rejected, errors, waits)
