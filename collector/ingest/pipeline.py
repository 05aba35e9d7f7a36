"""The traces pipeline: request body -> processing (here or in worker processes) -> writer.

Receivers await :meth:`TracesPipeline.consume` and then wait for the returned
futures before acknowledging; nothing here depends on the wire protocol.
With ``workers > 0`` decoding, normalising and pricing run in that many
processes, so they do not compete with the receivers for one interpreter;
the writer (the one owner of the storage) stays in this process.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Literal, Protocol

from spendgate.collector.config import PricingProcessor
from spendgate.collector.ingest.normalize import TimeBounds
from spendgate.collector.ingest.pricer import Pricer
from spendgate.collector.ingest.processing import Processed, init_worker, process, process_in_worker
from spendgate.collector.ingest.writer import SpanWriter


@dataclass
class ConsumeResult:
    accepted_spans: int
    non_llm_spans: int
    rejected_spans: int
    errors: list[str]
    waits: list[Future[None]] = field(default_factory=list)
    duplicate_calls: int = 0  # further reports of a call in the same request, merged into it


Transport = Literal["grpc", "http"]
# Why a receiver refused a whole export request (400, 413, 415, 429, 503 before and after processing);
# the auth middleware and interceptor add unauthenticated and forbidden (401, 403; api/auth.py).
Refusal = Literal["bad_request", "too_large", "unsupported", "busy", "unavailable", "not_stored"]


class IngestMeter(Protocol):
    """Told once per export request, by the receivers (collector/telemetry.py)."""

    def consumed(self, transport: Transport, result: ConsumeResult) -> None: ...
    def refused(self, transport: Transport, reason: Refusal) -> None: ...


class TracesPipeline:
    def __init__(
        self,
        pricing: PricingProcessor,
        writer: SpanWriter,
        workers: int = 0,
        bounds: TimeBounds | None = None,
    ) -> None:
        self.pricer = Pricer(pricing)
        self.bounds = bounds
        self.writer = writer
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._slots: asyncio.Semaphore | None = None
        if workers > 0:
            # spawn, not fork: this process runs threads (gRPC, the writer, the engine).
            self._pool = ProcessPoolExecutor(
                workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=init_worker,
                initargs=(pricing, bounds),
            )
        self.in_processing = 0
        writer.incoming = lambda: self.in_processing
        self.meter: IngestMeter | None = None  # the collector's metrics, when it has them
        self.stats = dict.fromkeys(
            ("requests", "llm_spans", "non_llm_spans", "rejected_spans", "duplicate_calls"), 0
        )

    def warm_up(self) -> None:
        """Start the worker processes now rather than on the first request."""
        if self._pool is not None:
            for future in [
                self._pool.submit(process_in_worker, b"", "protobuf") for _ in range(self.workers)
            ]:
                future.result()

    async def consume(self, body: bytes, content_type: str) -> ConsumeResult:
        """Process and queue one export request (``content_type``: "protobuf" or "json").

        Raises otlp.BadRequest for an undecodable body and writer.Backpressure
        when storage is behind; nothing is queued then.
        """
        if self._pool is None:
            return self.submit(process(body, content_type, self.pricer, self.bounds))
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.workers * 4)  # bounds bodies waiting for a worker
        self.in_processing += 1
        try:
            async with self._slots:
                loop = asyncio.get_running_loop()
                processed = await loop.run_in_executor(self._pool, process_in_worker, body, content_type)
            return self.submit(processed)
        finally:
            self.in_processing -= 1

    def submit(self, processed: Processed) -> ConsumeResult:
        split, links = processed.writer_rows()
        table = processed.table()
        waits = self.writer.submit(split, table, links) if split and table is not None else []
        self.stats["requests"] += 1
        self.stats["llm_spans"] += len(split)
        self.stats["non_llm_spans"] += processed.non_llm_spans
        self.stats["rejected_spans"] += processed.rejected_spans
        self.stats["duplicate_calls"] += processed.duplicate_calls
        return ConsumeResult(
            len(split),
            processed.non_llm_spans,
            processed.rejected_spans,
            processed.errors,
            waits,
            processed.duplicate_calls,
        )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
