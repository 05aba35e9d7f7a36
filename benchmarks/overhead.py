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
caller's thread (what the agent itself pays). Each round measures a block of
plain calls right before each variant's block; figures are medians of those
paired differences, which keeps the machine's drift out of them.

    python benchmarks/overhead.py [--calls 500] [--rounds 30]

The peers are optional: pip install opentelemetry-instrumentation-openai
opentelemetry-instrumentation-openai-v2 opentelemetry-util-genai==1.0b0 httpx
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
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
    """(wall µs, caller-thread CPU µs) per call over one block of calls."""
    wall0, cpu0 = time.perf_counter(), time.thread_time()
    for _ in range(calls):
        call()
    return (time.perf_counter() - wall0) / calls * 1e6, (time.thread_time() - cpu0) / calls * 1e6


VARIANTS = {
    "bare": "bare OTel span (6 attributes)",
    "spendgate": "spendgate",
    "spendgate-budgets": "budget checks, on top of spendgate (seeded limits)",
    "spendgate-sequential": "spendgate, measured like the peers",
    "official": "opentelemetry-instrumentation-openai-v2",
    "openllmetry": "OpenLLMetry opentelemetry-instrumentation-openai",
}


def _instrumentor(variant: str) -> Any:
    if variant.startswith("spendgate"):
        from spendgate.instrumentation.openai import OpenAIInstrumentor

        return OpenAIInstrumentor()
    if variant == "official":
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as Official

        return Official()
    from opentelemetry.instrumentation.openai import OpenAIInstrumentor as OpenLLMetry

    return OpenLLMetry()


def budget_guard() -> Any:
    """The guard instrument() installs, with the seeded per-request and per-run limits and no
    flags, as an agent holds them after its first snapshot (no network on the call path)."""
    from spendgate.collector.budgets.board import Snapshot
    from spendgate.collector.budgets.flag_service import snapshot_message
    from spendgate.collector.config import Config
    from spendgate.instrumentation.budget_guard import BudgetGuard
    from spendgate.instrumentation.flags_client import FlagTable

    limits = tuple(
        # Runs here last thousands of calls: lift the per-run caps so they are checked, never hit.
        b.model_copy(update={"limit": Decimal(10**12)}) if b.period == "run" else b
        for b in Config().extensions.budgets.defaults
        if b.agent_enforced
    )
    table = FlagTable()
    table.apply(snapshot_message(Snapshot(1, (), limits)))
    return BudgetGuard(table)


def run_budget_checks(provider: Any, plain: Callable[[], Any], calls: int, rounds: int) -> dict[str, float]:
    """What the budget checks add to an instrumented call: instrumented blocks without and with
    the guard alternate, inside a run of a coding agent (per-request and per-run limits apply)."""
    from spendgate.instrumentation import enforcement

    from spendgate import scope

    instrumentor = _instrumentor("spendgate")
    instrumentor.instrument(tracer_provider=provider)
    guard = budget_guard()
    with scope(agent_type="coding", agent="coder", run="run-1"):
        base_blocks, diffs = [], []
        for _ in range(rounds):
            enforcement.install_guard(None)
            base_wall, base_cpu = measure(plain, calls)
            enforcement.install_guard(guard)
            wall, cpu = measure(plain, calls)
            base_blocks.append((base_wall, base_cpu))
            diffs.append((wall - base_wall, cpu - base_cpu))
    enforcement.install_guard(None)
    instrumentor.uninstrument()
    provider.shutdown()
    return {
        "plain_wall": statistics.median(w for w, _ in base_blocks),
        "added_wall": statistics.median(w for w, _ in diffs),
        "added_cpu": statistics.median(c for _, c in diffs),
        "method": "paired with instrumented calls",
    }


def run_variant(variant: str, calls: int, rounds: int) -> dict[str, float]:
    """Plain calls against calls with the variant, in this process."""
    provider = TracerProvider()
    # A short delay keeps the queue of finished spans small, as at an agent's real call rates.
    provider.add_span_processor(BatchSpanProcessor(DropExporter(), schedule_delay_millis=100))
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

    for _ in range(300):
        plain()
    if variant == "spendgate-budgets":
        return run_budget_checks(provider, plain, calls, rounds)
    if variant in ("bare", "spendgate"):
        # These can be switched on and off cleanly: alternate plain and variant blocks and take
        # the median of the paired differences, so the machine's drift cancels out.
        instrumentor = _instrumentor(variant) if variant != "bare" else None
        plain_blocks, diffs = [], []
        for _ in range(rounds):
            plain_wall, plain_cpu = measure(plain, calls)
            if instrumentor is None:
                wall, cpu = measure(bare_span, calls)
            else:
                instrumentor.instrument(tracer_provider=provider)
                wall, cpu = measure(plain, calls)
                instrumentor.uninstrument()
            plain_blocks.append((plain_wall, plain_cpu))
            diffs.append((wall - plain_wall, cpu - plain_cpu))
        provider.shutdown()
        return {
            "plain_wall": statistics.median(w for w, _ in plain_blocks),
            "added_wall": statistics.median(w for w, _ in diffs),
            "added_cpu": statistics.median(c for _, c in diffs),
            "method": "paired",
        }
    # Not every peer restores the client fully on uninstrument(): plain blocks first, then the
    # peer's blocks, in a process of its own.
    before = [measure(plain, calls) for _ in range(rounds)]
    instrumentor = _instrumentor(variant)
    instrumentor.instrument(tracer_provider=provider)
    for _ in range(300):
        plain()
    measured = [measure(plain, calls) for _ in range(rounds)]
    provider.shutdown()
    plain_wall = statistics.median(w for w, _ in before)
    return {
        "plain_wall": plain_wall,
        "added_wall": statistics.median(w for w, _ in measured) - plain_wall,
        "added_cpu": statistics.median(c for _, c in measured) - statistics.median(c for _, c in before),
        "method": "sequential",
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=500, help="calls per measured block")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--variant", choices=sorted(VARIANTS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.calls, args.rounds)))
        return

    print(f"machine: {platform.machine()}, Python {platform.python_version()}, openai {openai.__version__}")
    print(
        f"each variant in a fresh process, {args.rounds} rounds of {args.calls}-call blocks; paired: plain and"
    )
    print("variant blocks alternate, median of the differences; sequential: plain blocks, then the variant's")
    print(f"{'variant':<50} {'plain µs':>9} {'added wall µs':>14} {'ratio':>7} {'added caller CPU µs':>20}")
    for variant, label in VARIANTS.items():
        child = subprocess.run(
            [sys.executable, __file__, "--variant", variant, "--calls", str(args.calls),
             "--rounds", str(args.rounds)],
            capture_output=True, text=True,
        )  # fmt: skip
        if child.returncode != 0:
            reason = (child.stderr.strip().splitlines() or ["failed"])[-1]
            print(f"{label:<50} not measured: {reason}")
            continue
        r = json.loads(child.stdout.strip().splitlines()[-1])
        print(
            f"{label:<50} {r['plain_wall']:9.1f} {r['added_wall']:14.1f} "
            f"{(r['plain_wall'] + r['added_wall']) / r['plain_wall']:7.3f} {r['added_cpu']:20.1f}  ({r['method']})",
            flush=True,
        )


if __name__ == "__main__":
    main()
