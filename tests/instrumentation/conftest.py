"""Fixtures for instrumentation tests: spans captured in memory from instrumented real SDKs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from spendgate.instrumentation.recorder import RECORDER


class CapturedSpans:
    """Spans the instrumentation built, after the background recorder has drained."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    def get(self) -> list[ReadableSpan]:
        RECORDER.flush()
        return list(self.exporter.get_finished_spans())

    def one(self) -> ReadableSpan:
        spans = self.get()
        assert len(spans) == 1, [span.name for span in spans]
        return spans[0]

    def attrs(self) -> dict[str, Any]:
        return dict(self.one().attributes or {})

    def clear(self) -> None:
        RECORDER.flush()
        self.exporter.clear()


@pytest.fixture(scope="session")
def captured() -> CapturedSpans:
    return CapturedSpans()


@pytest.fixture
def spans(captured: CapturedSpans) -> Iterator[CapturedSpans]:
    captured.clear()
    yield captured
    captured.clear()


def instrumented(instrumentor_class: type, captured: CapturedSpans) -> Iterator[Any]:
    """Instrument for one test module; restore the SDK afterwards."""
    instrumentor = instrumentor_class()
    instrumentor.instrument(tracer_provider=captured.provider)
    try:
        yield instrumentor
    finally:
        instrumentor.uninstrument()
