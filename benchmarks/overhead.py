"""Per-call overhead of instrumenting an openai chat call, against a baseline and two peers.

All in one process and one run, on the same client (openai SDK over an
in-process mock transport, so the network does not drown the figures):
  - plain: the uninstrumented call (the baseline),
  - bare span: the plain call inside one OpenTelemetry SDK span with 6 attributes,
  - spendgate, opentelemetry-instrumentation-openai-v2 (official), and OpenLLMetry's
    opentelemetry-instrumentation-openai, each instrumenting the client in turn.
Every tracer provider uses a BatchSpanProcessor with an exporter that drops
spans, so export work stays off the caller's thread. Figures are the added
microseconds per call over the plain call: wall time, and CPU time of the
caller's thread (what the agent itself pays). Medians of several rounds.

    python benchmarks/overhead.py [--calls 3000] [--rounds 7]

The peers are optional: pip install opentelemetry-instrumentation-openai
opentelemetry-instrumentation-openai-v2 opentelemetry-util-genai==1.0b0 httpx
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx2
import openai
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

BODY = json.dumps(
    {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "Hi."}, "finish_reason": "stop"}
        ],
        "usage": {
            "prompt_tokens": 120,
            "completion_tokens": 8,
            "total_tokens": 128,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    }
).encode()
MESSAGES = [{"role": "user", "content": "Say hi."}]


class DropExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def make_client() -> openai.OpenAI:
    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=BODY, headers={"content-type": "application/json"})

    return openai.OpenAI(
        api_key="bench",
        base_url="http://bench.local/v1",
        http_client=httpx2.Client(transport=httpx2.MockTransport(answer)),
    )


def measure(call: Callable[[], Any], calls: int) -> tuple[float, float]:
    """(wall µs, caller-thread CPU µs) per call."""
    for _ in range(200):
        call()
    wall0, cpu0 = time.perf_counter(), time.thread_time()
    for _ in range(calls):
        call()
    return (time.perf_counter() - wall0) / calls * 1e6, (time.thread_time() - cpu0) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(DropExporter()))
    trace.set_tracer_provider(provider)
    tracer = provider.get_tracer("bench")
    client = make_client()

    def plain() -> Any:
        return client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    def bare_span() -> Any:
        with tracer.start_as_current_span("chat gpt-4o-mini") as span:
            span.set_attributes(
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
                    "gen_ai.usage.input_tokens": 120,
                    "gen_ai.usage.output_tokens": 8,
                }
            )
            return plain()

    variants: list[tuple[str, Any]] = [("bare OTel span (6 attributes)", None)]
    from spendgate.instrumentation.openai import OpenAIInstrumentor as Spendgate

    variants.append(("spendgate", Spendgate))
    try:
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as Official

        variants.append(("opentelemetry-instrumentation-openai-v2", Official))
    except Exception as exc:  # optional peer
        print(f"(official openai-v2 instrumentation not measured: {exc})")
    try:
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor as OpenLLMetry

        variants.append(("OpenLLMetry opentelemetry-instrumentation-openai", OpenLLMetry))
    except Exception as exc:
        print(f"(OpenLLMetry not measured: {exc})")

    results: dict[str, list[tuple[float, float]]] = {"plain": []}
    for name, _ in variants:
        results[name] = []
    for _ in range(args.rounds):
        # Interleave variants within each round so drift hits them all alike.
        results["plain"].append(measure(plain, args.calls))
        for name, instrumentor_class in variants:
            if instrumentor_class is None:
                results[name].append(measure(bare_span, args.calls))
                continue
            instrumentor = instrumentor_class()
            instrumentor.instrument(tracer_provider=provider)
            try:
                results[name].append(measure(plain, args.calls))
            finally:
                instrumentor.uninstrument()
    provider.shutdown()

    base_wall = statistics.median(w for w, _ in results["plain"])
    base_cpu = statistics.median(c for _, c in results["plain"])
    print(f"machine: {platform.machine()}, {platform.python_version()}, openai {openai.__version__}")
    print(f"{args.calls} calls x {args.rounds} rounds; medians; added = variant - plain")
    print(f"{'variant':<52} {'wall µs':>9} {'added':>8} {'ratio':>7} {'caller CPU µs':>14} {'added':>8}")
    print(
        f"{'plain openai call (baseline)':<52} {base_wall:9.1f} {0:8.1f} {1:7.3f} {base_cpu:14.1f} {0:8.1f}"
    )
    for name, _ in variants:
        wall = statistics.median(w for w, _ in results[name])
        cpu = statistics.median(c for _, c in results[name])
        print(
            f"{name:<52} {wall:9.1f} {wall - base_wall:8.1f} {wall / base_wall:7.3f} {cpu:14.1f} {cpu - base_cpu:8.1f}"
        )


if __name__ == "__main__":
    main()
