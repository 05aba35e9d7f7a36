"""Rollups catch up with llm_spans after a crash left a block in llm_spans only (or in some rollups).

The crash state is made directly: the rollup views are detached while a block is inserted and the
block's ledger entry is not written, as when a SIGKILL lands between llm_spans and the views.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from typing import Any

import httpx
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from spendgate.collector.app import Collector
from spendgate.collector.config import parse_config

from .conftest import RunningCollector, chat_attributes, collector_yaml, free_port, stop_collector
from .rollup_check import rollup_differences


def spans_at(count: int, seconds_ago: float, **extra: Any) -> list[ReadableSpan]:
    """Chat spans that started ``seconds_ago``: older than the current hour, a budget reads them from
    the hourly rollup, not from llm_spans."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "agent-svc"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("tests")
    start = time.time_ns() - int(seconds_ago * 1e9)
    for index in range(count):
        span = tracer.start_span("chat gpt-4o", kind=SpanKind.CLIENT, start_time=start + index * 1000)
        span.set_attributes(chat_attributes(**extra))
        span.end(end_time=start + index * 1000 + 500_000_000)
    provider.shutdown()
    return list(memory.get_finished_spans())


def _open(dsn: str, database: str) -> tuple[RunningCollector, threading.Thread]:
    collector = Collector(parse_config(collector_yaml(dsn, database, free_port(), free_port())))
    thread = collector.serve_in_thread()
    return RunningCollector(collector, dsn, database), thread


def _export(running: RunningCollector, spans: list[ReadableSpan]) -> None:
    assert (
        GrpcExporter(endpoint=running.grpc_endpoint, insecure=True).export(spans) == SpanExportResult.SUCCESS
    )


def _month_spend(running: RunningCollector) -> Decimal:
    return Decimal(
        running.scalar(
            "SELECT toString(sum(total_cost)) FROM {db}.llm_spans WHERE start_time >= toStartOfMonth(now())"
        )
    )


def _global_monthly(running: RunningCollector) -> Decimal:
    """The global monthly budget's spend in the newest evaluation, as the status API shows it."""
    status = httpx.get(running.http_url + "/api/v1/costs/budgets/status", params={"scope_type": "global"})
    return next(Decimal(s["spend"]) for s in status.json()["scopes"] if s["budget_id"] == "global-monthly")


def _crash_state(running: RunningCollector, views: list[str], spans: list[ReadableSpan]) -> None:
    """Store ``spans`` in llm_spans and in the rollups whose views are not listed, with no ledger entry."""
    writer = running.collector.writer
    assert writer is not None
    ledger, writer.ledger = writer.ledger, None
    for view in views:
        running.client.command(f"DETACH TABLE {running.database}.{view}")
    try:
        _export(running, spans)
    finally:
        for view in views:
            running.client.command(f"ATTACH TABLE {running.database}.{view}")
        writer.ledger = ledger


def test_start_up_replays_the_inserts_missing_from_the_rollups(chdb_dsn: str) -> None:
    running, thread = _open(chdb_dsn, "t_reconcile")
    try:
        _export(running, spans_at(40, 2 * 3600, **{"spendgate.project": "web"}))
        assert not rollup_differences(running.rows)
        # A crash after llm_spans and the monthly rollup, before the hourly and daily ones ...
        _crash_state(
            running,
            ["spend_by_scope_hourly_mv", "spend_daily_mv"],
            spans_at(30, 2 * 3600 + 60, **{"spendgate.project": "crash", "spendgate.ticket": "T-9"}),
        )
        # ... and one after llm_spans only.
        _crash_state(
            running,
            ["spend_by_scope_hourly_mv", "spend_daily_mv", "spend_monthly_mv"],
            spans_at(20, 60, **{"spendgate.agent": "coder"}),
        )
        broken = rollup_differences(running.rows)
        assert set(broken) == {"spend_by_scope_hourly", "spend_daily", "spend_monthly"}
        assert running.scalar("SELECT count() FROM {db}.llm_spans") == 90
        stop_collector_only(running, thread)

        running, thread = _open(chdb_dsn, "t_reconcile")
        reconciler = running.collector.reconciler
        assert reconciler is not None
        assert reconciler.stats["replayed_inserts"] == 2 and reconciler.stats["replayed_rows"] == 50
        assert not rollup_differences(running.rows)
        assert running.scalar("SELECT count() FROM {db}.llm_spans") == 90
        # Budgets read whole hours from the hourly rollup: they see the repaired spend at once.
        assert _global_monthly(running) == _month_spend(running) > 0

        # Running it again adds nothing, even when it replays every insert (their ledger lost).
        assert reconciler.run_at_start().inserts == 0
        running.client.command(f"TRUNCATE TABLE {running.database}.insert_ledger")
        again = reconciler.run_at_start()
        assert again.inserts == 3 and again.rows == 90
        assert not rollup_differences(running.rows)
        assert running.scalar("SELECT count() FROM {db}.llm_spans") == 90
    finally:
        stop_collector(running, thread)


def test_periodic_run_repairs_an_insert_whose_views_failed(chdb_dsn: str) -> None:
    running, thread = _open(chdb_dsn, "t_reconcile_live")
    try:
        reconciler = running.collector.reconciler
        assert reconciler is not None
        assert reconciler.run().inserts == 0  # nothing to do: one cheap query
        _crash_state(running, ["spend_daily_mv"], spans_at(25, 2 * 3600))
        assert set(rollup_differences(running.rows)) == {"spend_daily"}
        repair = reconciler.run()
        assert (repair.inserts, repair.rows) == (1, 25)
        assert not rollup_differences(running.rows)
        assert reconciler.run().inserts == 0
    finally:
        stop_collector(running, thread)


def stop_collector_only(running: RunningCollector, thread: threading.Thread) -> None:
    """Stop the collector, keeping its database for the next one."""
    running.collector.request_stop()
    thread.join(30)
