"""What every peer script shares: its arguments, the fake provider's URLs and the tracer provider.

The peer scripts run inside each peer's own virtualenv, which has the peer's packages and the
OpenTelemetry SDK with the OTLP/HTTP exporter but not spendgate: this module imports nothing else.
The driver (tools/interop/capture.py) sets the OTLP endpoint and the fake provider's URLs in the
environment and passes ``<peer> <case>`` on the command line.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

PROMPT = "Say hello."
SYSTEM = "You are a terse assistant. " * 8  # a system block to mark for caching; its size is irrelevant
API_KEY = "sk-interop-fake"  # the fake provider accepts any key


def arguments() -> tuple[str, str]:
    if len(sys.argv) != 3:
        raise SystemExit(f"usage: {sys.argv[0]} PEER CASE")
    return sys.argv[1], sys.argv[2]


def url(provider: str) -> str:
    """The fake provider's base URL for one provider's SDK (openai, anthropic, gemini)."""
    return os.environ[f"SPENDGATE_FAKE_{provider.upper()}_URL"]


def exporter() -> OTLPSpanExporter:
    # The endpoint comes from OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, set by the driver.
    return OTLPSpanExporter()


def resource(peer: str) -> Resource:
    return Resource.create({"service.name": f"interop-{peer}"})


def install_tracer_provider(peer: str) -> TracerProvider:
    """A global SDK tracer provider that batches spans to the driver's OTLP sink."""
    provider = TracerProvider(resource=resource(peer))
    provider.add_span_processor(BatchSpanProcessor(exporter()))
    trace.set_tracer_provider(provider)
    return provider


def flush() -> None:
    """Export every span still queued: the driver reads the sink as soon as the script exits."""
    provider = trace.get_tracer_provider()
    if hasattr(provider, "force_flush"):
        provider.force_flush()
    if hasattr(provider, "shutdown"):
        provider.shutdown()


def run_case(cases: dict[str, Callable[[], object]], case: str) -> None:
    if case not in cases:
        raise SystemExit(f"case {case!r} is not defined here; known: {', '.join(sorted(cases))}")
    cases[case]()


def combined(*tables: dict[str, Callable[[], object]]) -> dict[str, Callable[[], object]]:
    """One case table over several SDKs: a case makes the call of each SDK that has it, in order."""
    names = dict.fromkeys(name for table in tables for name in table)

    def every(name: str) -> Callable[[], object]:
        return lambda: [table[name]() for table in tables if name in table]

    return {name: every(name) for name in names}
