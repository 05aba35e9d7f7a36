"""Capture the OpenTelemetry spans of the real Vercel AI SDK (npm `ai`) as interop fixtures.

For every pinned major version under tools/interop/vercel/v<N>/ and every case, this starts
the fake provider with the case's usage and an OTLP sink, runs `node vercel/capture.mjs` and
writes tests/interop/fixtures/vercel-v<N>/<case>.json. Run from the main virtualenv after
`npm ci` in each version directory (see tests/interop/VERCEL.md):

    python tools/interop/capture_vercel.py [--version 4 5 6 7 7-legacy] [--case chat ...] [-v]

Before writing a fixture it checks that every usage number the spans leave out is declared in
LIMITS, and that nothing declared there is in fact present, so a new SDK release cannot slip by.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Captured, ExpectedCall, Fixture, OtlpSink  # noqa: E402
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402
from spendgate.instrumentation.fake_provider.formats import Usage  # noqa: E402
from spendgate.instrumentation.fake_provider.server import FakeProvider, Received  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import Response, StreamingResponse  # noqa: E402

HERE = Path(__file__).resolve().parent / "vercel"
PACKAGES = (
    "ai",
    "@ai-sdk/openai",
    "@ai-sdk/anthropic",
    "@ai-sdk/otel",
    "@opentelemetry/sdk-trace-node",
    "@opentelemetry/exporter-trace-otlp-proto",
)


@dataclass
class Target:
    """One way of running the SDK: a pinned version directory, plus options for capture.mjs."""

    name: str  # what --version takes
    directory: str  # under tools/interop/vercel/
    env: dict[str, str] = field(default_factory=dict)
    note: str = ""

    @property
    def peer(self) -> str:
        return f"vercel-v{self.name}"


_V7_OTEL = "registerTelemetry(new OpenTelemetry()) from @ai-sdk/otel: gen_ai.* semantic-convention spans."
_V7_LEGACY = "registerTelemetry(new LegacyOpenTelemetry()) from @ai-sdk/otel: the ai.* spans of v4-v6."
TARGETS = {
    target.name: target
    for target in (
        Target("4", "v4", note="experimental_telemetry spans (ai.* and a few gen_ai.*)."),
        Target("5", "v5", note="experimental_telemetry spans (ai.* and a few gen_ai.*)."),
        Target("6", "v6", note="experimental_telemetry spans (ai.* and a few gen_ai.*)."),
        Target("7", "v7", {"SG_V7_INTEGRATION": "otel"}, _V7_OTEL),
        Target("7-legacy", "v7", {"SG_V7_INTEGRATION": "legacy"}, _V7_LEGACY),
    )
}


def _usage(
    inputs: int, output: int, read: int = 0, write: int = 0, write_1h: int = 0, reasoning: int = 0
) -> Usage:
    return Usage(inputs, output, read, write, write_1h, reasoning)


# Distinct numbers per case, so a count in a span can be traced back to one usage field.
# Input is in semantic-convention meaning: it includes the cache reads and writes.
CASES: dict[str, Usage] = {
    "chat": _usage(1234, 56, read=320),
    "stream": _usage(1111, 77, read=128),
    "anthropic_cached": _usage(2000, 91, read=500, write=300),
    "anthropic_cache_1h": _usage(3000, 113, read=600, write=900, write_1h=437),
    "anthropic_stream": _usage(2500, 66, read=700, write=210),
    "reasoning": _usage(812, 643, reasoning=512),
    "responses": _usage(1536, 95, read=1024),
    "embeddings": _usage(42, 0),
}

_OPERATIONS = {
    "/embeddings": "embeddings",
    "/chat/completions": "chat",
    "/responses": "chat",
    "/messages": "chat",
}


@dataclass
class Limit:
    """Part of the wire usage that no attribute of the SDK's spans carries, and why."""

    fields: dict[str, int]  # Usage fields as the spans carry them, overriding the wire usage
    reason: str


_V5_GENERATE = "v5 generateText's doGenerate span sets only ai.usage.promptTokens/completionTokens"
# (target, case) -> what the spans cannot carry, as observed; verified on every capture by audit().
LIMITS: dict[tuple[str, str], Limit] = {
    ("5", "chat"): Limit(
        {"cache_read_tokens": 0},
        f"{_V5_GENERATE} and providerMetadata.openai is empty: the cached count would need "
        "ai.usage.cachedInputTokens (set only on streamText spans)",
    ),
    ("5", "responses"): Limit(
        {"cache_read_tokens": 0},
        f"{_V5_GENERATE} and providerMetadata.openai holds only responseId: the cached count would need "
        "ai.usage.cachedInputTokens (set only on streamText spans)",
    ),
    ("5", "reasoning"): Limit(
        {"reasoning_tokens": 0},
        f"{_V5_GENERATE}: the reasoning count would need ai.usage.reasoningTokens (set only on streamText "
        "spans); output_tokens still includes it",
    ),
    ("7", "reasoning"): Limit(
        {"reasoning_tokens": 0},
        "@ai-sdk/otel OpenTelemetry sets no gen_ai.usage.reasoning.output_tokens (and records no provider "
        "metadata); output_tokens still includes the reasoning tokens",
    ),
    ("7", "anthropic_cache_1h"): Limit(
        {"cache_write_1h_tokens": 0},
        "@ai-sdk/otel OpenTelemetry sets only the total gen_ai.usage.cache_creation.input_tokens; the "
        "1-hour part would need Anthropic's cache_creation.ephemeral_1h_input_tokens (provider metadata "
        "is not recorded)",
    ),
}


# -- the sink and the provider --------------------------------------------------------------------


class ChunkedOtlpSink(OtlpSink):
    """OtlpSink that also reads chunked bodies: Node's OTLP exporter sends no Content-Length."""

    def __init__(self) -> None:
        super().__init__()
        base = self._server.RequestHandlerClass

        class Handler(base):  # type: ignore[misc, valid-type]
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body = read_chunked(self.rfile)
                    del self.headers["Transfer-Encoding"]
                    self.headers["Content-Length"] = str(len(body))
                    self.rfile = io.BytesIO(body)
                super().do_POST()

        self._server.RequestHandlerClass = Handler


def read_chunked(stream: Any) -> bytes:
    body = bytearray()
    while True:
        size = int(stream.readline().split(b";")[0].strip(), 16)
        if size == 0:
            while stream.readline().strip():  # trailers, up to the blank line
                pass
            return bytes(body)
        body += stream.read(size)
        stream.readline()  # the CRLF after each chunk


class FakeProviderForVercel(FakeProvider):
    """The fake provider, plus the `incomplete_details: null` every real Responses object carries.

    @ai-sdk/openai 1.x validates the Responses reply strictly and rejects it without that key.
    """

    async def _openai_responses(self, request: Request) -> Response:
        reply = await super()._openai_responses(request)
        if isinstance(reply, StreamingResponse) or reply.media_type != "application/json":
            return reply
        body = json.loads(bytes(reply.body))
        if body.get("object") != "response":
            return reply
        body.setdefault("incomplete_details", None)
        return Response(json.dumps(body).encode(), reply.status_code, media_type="application/json")


# -- running one case -----------------------------------------------------------------------------


def node_binary(target: Target) -> str:
    """SG_NODE, else the node the version directory brings (v7 needs Node >= 22), else PATH's."""
    bundled = HERE / target.directory / "node_modules" / ".bin" / "node"
    return os.environ.get("SG_NODE") or (str(bundled) if bundled.exists() else shutil.which("node") or "node")


def run_node(target: Target, case: str, fake: FakeProvider, sink: OtlpSink) -> dict[str, Any]:
    env = {
        **os.environ,
        **target.env,
        "SG_OTLP_ENDPOINT": sink.endpoint,
        "SG_OPENAI_URL": fake.url("openai"),
        "SG_ANTHROPIC_URL": fake.url("anthropic") + "/v1",  # the provider appends /messages
    }
    command = [node_binary(target), str(HERE / "capture.mjs"), str(HERE / target.directory), case]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"node failed for {target.peer}/{case}:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def installed_versions(target: Target) -> dict[str, str]:
    node = subprocess.run([node_binary(target), "--version"], capture_output=True, text=True, check=True)
    found = {"node": node.stdout.strip().lstrip("v")}
    for package in PACKAGES:
        manifest = HERE / target.directory / "node_modules" / package / "package.json"
        if manifest.exists():
            found[package] = json.loads(manifest.read_text())["version"]
    return found


# -- what the provider was asked for --------------------------------------------------------------


def expected_calls(target: Target, case: str, received: list[Received], usage: Usage) -> list[ExpectedCall]:
    """One call per provider HTTP request, with the usage the fake provider answered."""
    calls = []
    limit = LIMITS.get((target.name, case))
    for request in received:
        operation = next(op for suffix, op in _OPERATIONS.items() if request.path.endswith(suffix))
        call = ExpectedCall(request.provider, request.body.get("model", ""), operation, usage)
        if limit is not None:
            call.expressible, call.limit = replace(usage, **limit.fields), limit.reason
        calls.append(call)
    return calls


# -- reading the spans back -----------------------------------------------------------------------


def spans(requests: list[Captured]) -> Iterator[tuple[dict[str, Any], Any]]:
    """(resource attributes, span) for every span in the captured export requests."""
    for captured in requests:
        message = ExportTraceServiceRequest()
        message.ParseFromString(captured.body)
        for resource_spans in message.resource_spans:
            resource = attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    yield resource, span


def attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: any_value(pair.value) for pair in pairs}


def any_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [any_value(inner) for inner in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    return None if kind is None else getattr(value, kind)


def numbers(value: Any, prefix: str) -> Iterator[tuple[str, int]]:
    """Every integer inside an attribute value, JSON strings included, with its path."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            value = json.loads(value)
        except ValueError:
            return
    if isinstance(value, bool):
        return
    if isinstance(value, int | float) and float(value).is_integer():
        yield prefix, int(value)
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield from numbers(inner, f"{prefix}.{key}")
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from numbers(inner, f"{prefix}[{index}]")


def usage_numbers(usage: Usage) -> dict[str, int]:
    return {
        "input": usage.input_tokens,
        "uncached_input": usage.uncached_input,
        "output": usage.output_tokens,
        "cache_read": usage.cache_read_tokens,
        "cache_write": usage.cache_write_tokens,
        "cache_write_5m": usage.cache_write_tokens - usage.cache_write_1h_tokens,
        "cache_write_1h": usage.cache_write_1h_tokens,
        "reasoning": usage.reasoning_tokens,
    }


def all_numbers(requests: list[Captured]) -> Iterator[tuple[str, int]]:
    """("span name: key path", integer) for every integer in the spans, their events and resources."""
    for resource, span in spans(requests):
        sources = [("resource", resource), (span.name, attributes(span.attributes))]
        sources += [
            (f"{span.name} event {event.name}", attributes(event.attributes)) for event in span.events
        ]
        for owner, attrs in sources:
            for key, value in attrs.items():
                for path, number in numbers(value, key):
                    yield f"{owner}: {path}", number


def where_found(requests: list[Captured], usage: Usage) -> dict[str, list[str]]:
    """For each non-zero usage number, the attributes that carry it."""
    wanted = {label: value for label, value in usage_numbers(usage).items() if value}
    found: dict[str, list[str]] = {label: [] for label in wanted}
    for place, number in all_numbers(requests):
        for label, value in wanted.items():
            if value == number:
                found[label].append(place)
    return found


# Which numbers in the spans let a reader recover each Usage field.
_EVIDENCE = {
    "input_tokens": ("input", "uncached_input"),  # uncached input plus the cache counts is enough
    "output_tokens": ("output",),
    "cache_read_tokens": ("cache_read",),
    "cache_write_tokens": ("cache_write", "cache_write_5m"),
    "cache_write_1h_tokens": ("cache_write_1h",),
    "reasoning_tokens": ("reasoning",),
}


def audit(target: Target, case: str, requests: list[Captured], usage: Usage) -> list[str]:
    """Disagreements between LIMITS and the captured spans (empty when the table is right)."""
    found = where_found(requests, usage)
    declared = LIMITS.get((target.name, case), Limit({}, "")).fields
    problems = []
    for name, labels in _EVIDENCE.items():
        if not getattr(usage, name):
            continue
        present = any(found.get(label) for label in labels)
        if present and name in declared:
            problems.append(f"{name} is declared inexpressible but the spans carry it")
        if not present and name not in declared:
            problems.append(f"{name} is in no span attribute and LIMITS does not say so")
    return problems


# -- reporting ------------------------------------------------------------------------------------


def span_outline(requests: list[Captured]) -> list[str]:
    """One line per span: its name, kind, whether it is a root, and the attributes a pricer reads."""
    lines = []
    for _, span in spans(requests):
        attrs = attributes(span.attributes)
        keep = {k: v for k, v in attrs.items() if any(m in k for m in _MARKERS)}
        parent = "root" if not span.parent_span_id else "child"
        lines.append(f"  {span.name} [{parent}, kind {span.kind}] {json.dumps(keep, default=str)}")
    return lines


_MARKERS = ("usage", "model", "provider", "system", "operation", "providerMetadata", "functionId", "metadata")


def report(label: str, outcome: dict[str, Any], requests: list[Captured], usage: Usage,
           verbose: bool) -> None:  # fmt: skip
    span_count = sum(1 for _ in spans(requests))
    print(f"{label}: {len(requests)} export request(s), {span_count} spans")
    if not verbose:
        return
    print(f"  sdk result: {json.dumps({k: v for k, v in outcome.items() if k != 'text'})}")
    print("\n".join(span_outline(requests)))
    for name, places in where_found(requests, usage).items():
        print(f"  {name}={usage_numbers(usage)[name]}: {'; '.join(places) or 'NOWHERE'}")


# -- the loop -------------------------------------------------------------------------------------


def capture(target: Target, case: str, fake: FakeProvider, verbose: bool) -> Path | None:
    usage, label = CASES[case], f"{target.peer}/{case}"
    fake.usage, fake.requests[:] = usage, []
    with ChunkedOtlpSink() as sink:
        outcome = run_node(target, case, fake, sink)
        requests = sink.take_traces()
    if "skipped" in outcome:
        print(f"{label}: skipped ({outcome['skipped']})")
        return None
    if not requests:
        raise RuntimeError(f"{label}: the SDK exported no spans")
    report(label, outcome, requests, usage, verbose)
    problems = audit(target, case, requests, usage)
    if problems:
        raise RuntimeError(f"{label}: update LIMITS: " + "; ".join(problems))
    calls = expected_calls(target, case, list(fake.requests), usage)
    notes = f"Real AI SDK against the fake provider, by tools/interop/capture_vercel.py. {target.note}"
    return Fixture(target.peer, case, installed_versions(target), calls, requests, notes).write()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    parser.add_argument("--case", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="print the spans and where each count is"
    )
    args = parser.parse_args()
    with FakeProviderForVercel() as fake:
        for name in args.version:
            for case in args.case:
                path = capture(TARGETS[name], case, fake, args.verbose)
                if path is not None:
                    print(f"  wrote {path}")


if __name__ == "__main__":
    main()
