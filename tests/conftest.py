"""Shared fixtures: an in-process collector on the embedded engine, span builders.

chDB allows one data path per process, so every in-process collector of the
test session shares one path and gets a database of its own.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import clickhouse_connect
import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from spendgate.collector.app import Collector
from spendgate.collector.config import parse_config


def wait_until(
    predicate: Callable[[], Any], timeout: float = 10.0, what: str = "the condition", interval: float = 0.005
) -> None:
    """Poll ``predicate`` until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


def clear_of_midnight(before: float = 65, after: float = 300) -> datetime:
    """Now (UTC, whole seconds), at least ``before`` seconds into the day and ``after`` seconds before its end.

    Tests that seed calls "minutes ago" and read them back as today's wait here instead of failing
    in the first minutes after midnight or finding them in tomorrow's day.
    """
    while True:
        now = datetime.now(UTC).replace(microsecond=0)
        since = (now - now.replace(hour=0, minute=0, second=0)).total_seconds()
        if before <= since <= 86_400 - after:
            return now
        time.sleep(before - since if since < before else 86_400 - since + before)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def collector_yaml(
    dsn: str, database: str, grpc_port: int, http_port: int, extra: str = "", workers: int = 0
) -> str:
    return f"""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc_port}"}}
      http: {{endpoint: "127.0.0.1:{http_port}", max_request_body_size_mib: 4}}
processors:
  batch: {{timeout: 20ms, ack_timeout: 20s, workers: {workers}}}
exporters:
  clickhouse:
    endpoint: "{dsn}"
    database: {database}
{extra}
"""


@pytest.fixture(scope="session")
def chdb_dsn(tmp_path_factory: pytest.TempPathFactory) -> str:
    return "chdb://" + str(tmp_path_factory.mktemp("chdb") / "data")


class RunningCollector:
    def __init__(self, collector: Collector, dsn: str, database: str) -> None:
        self.collector = collector
        self.database = database
        self.client = clickhouse_connect.get_client(dsn=dsn)

    @property
    def grpc_endpoint(self) -> str:
        return f"127.0.0.1:{self.collector.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.collector.http_port}"

    def rows(self, sql: str, **parameters: Any) -> list[tuple[Any, ...]]:
        return list(self.client.query(sql.replace("{db}", self.database), parameters=parameters).result_rows)

    def scalar(self, sql: str, **parameters: Any) -> Any:
        return self.rows(sql, **parameters)[0][0]


def start_collector(dsn: str, extra: str = "", workers: int = 0) -> tuple[Collector, threading.Thread, str]:
    database = "t_" + uuid.uuid4().hex[:10]
    config = parse_config(collector_yaml(dsn, database, free_port(), free_port(), extra, workers))
    collector = Collector(config)
    return collector, collector.serve_in_thread(), database


def stop_collector(running: RunningCollector, thread: threading.Thread) -> None:
    """Stop the collector and drop its database: left behind, every test's tables would keep
    the shared embedded engine merging in the background and slow the tests after them."""
    running.collector.request_stop()
    thread.join(30)
    running.client.command(f"DROP DATABASE IF EXISTS {running.database} SYNC")


@contextlib.contextmanager
def collector_running(dsn: str, extra: str = "", workers: int = 0) -> Iterator[RunningCollector]:
    collector, thread, database = start_collector(dsn, extra, workers)
    running = RunningCollector(collector, dsn, database)
    try:
        yield running
    finally:
        stop_collector(running, thread)


@pytest.fixture
def running(chdb_dsn: str) -> Iterator[RunningCollector]:
    with collector_running(chdb_dsn) as collector:
        yield collector


def make_spans(items: list[dict[str, Any]], resource: dict[str, Any] | None = None) -> list[ReadableSpan]:
    """Finished SDK spans with the given names and attributes."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create(resource or {"service.name": "agent-svc"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("tests")
    for item in items:
        span = tracer.start_span(item.get("name", "chat gpt-4o"), kind=SpanKind.CLIENT)
        span.set_attributes(item["attributes"])
        span.end()
    provider.shutdown()
    return list(memory.get_finished_spans())


def chat_attributes(model: str = "gpt-4o", provider: str = "openai", **extra: Any) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": model,
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 200,
    }
    attributes.update(extra)
    return attributes


REPO = Path(__file__).resolve().parent.parent
