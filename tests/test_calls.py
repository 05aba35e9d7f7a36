"""Several instrumentations reporting one provider call: stored once, across requests and restarts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from spendgate.collector.app import Collector
from spendgate.collector.config import parse_config

from .conftest import RunningCollector, chat_attributes, collector_yaml, free_port, stop_collector


def _reports(*reports: tuple[str, dict[str, Any], bool]) -> list[ReadableSpan]:
    """Spans of one trace; each is (scope, attributes, nested in the previous span)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    previous = None
    started: list[Any] = []
    for scope, attributes, nested in reports:
        context = trace.set_span_in_context(previous) if nested and previous is not None else None
        span = provider.get_tracer(scope).start_span("chat", context=context)
        span.set_attributes(attributes)
        started.append(span)
        previous = span
    for span in reversed(started):  # inner spans end first, as nested calls do
        span.end()
    return list(memory.get_finished_spans())


def _send(running: RunningCollector, spans: list[ReadableSpan]) -> None:
    body = encode_spans(spans).SerializeToString()
    reply = httpx.post(running.http_url + "/v1/traces", content=body,
                       headers={"Content-Type": "application/x-protobuf"}, timeout=30)  # fmt: skip
    assert reply.status_code == 200, reply.text


def _calls(running: RunningCollector) -> list[tuple[Any, ...]]:
    return running.rows("SELECT emitter, output_tokens FROM {db}.llm_spans ORDER BY output_tokens")


@pytest.fixture
def database() -> str:
    return "t_" + uuid.uuid4().hex[:10]


@pytest.fixture
def start(chdb_dsn: str, database: str) -> Iterator[Any]:
    started: list[tuple[RunningCollector, Any]] = []

    def run() -> RunningCollector:
        for running, thread in started:  # one collector at a time owns the embedded engine
            running.collector.request_stop()
            thread.join(30)
        config = parse_config(collector_yaml(chdb_dsn, database, free_port(), free_port()))
        collector = Collector(config)
        thread = collector.serve_in_thread()
        running = RunningCollector(collector, chdb_dsn, database)
        started.append((running, thread))
        return running

    yield run
    stop_collector(*started[-1])


def _anthropic(output: int, response_id: str) -> dict[str, Any]:
    return chat_attributes("claude-sonnet-4-5", "anthropic", **{
        "gen_ai.usage.output_tokens": output, "gen_ai.response.id": response_id,
    })  # fmt: skip


def test_the_same_response_in_separate_traces_and_requests_is_one_call(start: Any) -> None:
    running = start()
    _send(running, _reports(("opentelemetry.instrumentation.anthropic", _anthropic(51, "msg_a"), False)))
    _send(running, _reports(("com.anthropic.sdk.python", _anthropic(50, "msg_a"), False)))
    _send(running, _reports(("com.anthropic.sdk.python", _anthropic(60, "msg_b"), False)))
    assert _calls(running) == [("openllmetry", 51), ("anthropic-sdk", 60)]
    # After a restart the call's identity is reloaded from ClickHouse.
    running = start()
    _send(running, _reports(("com.anthropic.sdk.python", _anthropic(50, "msg_a"), False)))
    assert len(_calls(running)) == 2


def test_a_span_nested_in_a_call_stored_earlier_is_that_call(start: Any) -> None:
    outer = chat_attributes("gpt-4o", **{"gen_ai.usage.output_tokens": 10})
    inner = chat_attributes("gpt-4o", **{"gen_ai.usage.output_tokens": 11})
    spans = _reports(("pydantic-ai", outer, False), ("opentelemetry.instrumentation.openai.v1", inner, True))
    by_scope = {s.instrumentation_scope.name: s for s in spans}
    running = start()
    _send(running, [by_scope["opentelemetry.instrumentation.openai.v1"]])  # the inner span ends first
    _send(running, [by_scope["pydantic-ai"]])
    assert _calls(running) == [("openllmetry", 11)]
    # The other order, and across a restart.
    spans = _reports(("pydantic-ai", outer, False), ("opentelemetry.instrumentation.openai.v1", inner, True))
    by_scope = {s.instrumentation_scope.name: s for s in spans}
    _send(running, [by_scope["pydantic-ai"]])
    running = start()
    _send(running, [by_scope["opentelemetry.instrumentation.openai.v1"]])
    assert _calls(running) == [("pydantic-ai", 10), ("openllmetry", 11)]


def test_reports_of_one_call_in_overlapping_requests_are_stored_once(start: Any) -> None:
    running = start()
    outer = chat_attributes("gpt-4o", **{"gen_ai.usage.output_tokens": 10})
    inner = chat_attributes(
        "gpt-4o", **{"gen_ai.usage.output_tokens": 11, "gen_ai.response.id": "chatcmpl-1"}
    )
    spans = _reports(("litellm", outer, False), ("opentelemetry.instrumentation.openai.v1", inner, True))
    writer = running.collector.writer
    assert writer is not None
    from spendgate.collector.ingest.processing import process

    futures = []
    for span in spans:  # both queued before either insert returns
        processed = process(
            encode_spans([span]).SerializeToString(), "protobuf", running.collector.pipeline.pricer
        )
        keys, links = processed.writer_rows()
        futures += writer.submit(keys, processed.table(), links)
    for future in futures:
        future.result(30)
    assert len(_calls(running)) == 1
    # A third report under the response id (the SDK's own span, in a trace of its own) is that call too.
    _send(running, _reports(("com.anthropic.sdk.python", {**inner, "gen_ai.provider.name": "openai"}, False)))
    assert len(_calls(running)) == 1
