"""Shared pieces of the interop capture scripts: an OTLP/HTTP sink and the fixture writer.

A capture runs a real third-party instrumentation (in its own virtualenv, or
under Node.js) against the fake provider with known usage, and records every
OTLP export request it sends. The suite replays those requests through a
running collector (tests/test_interop.py). The fixture format is described in
tests/interop/README.md.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from spendgate.instrumentation.fake_provider.formats import Usage

# SPENDGATE_INTEROP_FIXTURES writes a capture elsewhere (the suite's live rerun, -m interop).
FIXTURES = Path(
    os.environ.get("SPENDGATE_INTEROP_FIXTURES")
    or Path(__file__).resolve().parents[2] / "tests" / "interop" / "fixtures"
)


def shown(path: Path) -> Path:
    """A fixture's path as printed: relative to the repository where it lies inside it."""
    repo = Path(__file__).resolve().parents[2]
    return path.relative_to(repo) if path.is_relative_to(repo) else path


@dataclass
class Captured:
    path: str
    content_type: str
    body: bytes


class OtlpSink:
    """Accepts OTLP/HTTP export requests on loopback and keeps their raw bodies."""

    def __init__(self) -> None:
        self.requests: list[Captured] = []
        self._lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if self.headers.get("Content-Encoding") == "gzip":
                    import gzip

                    body = gzip.decompress(body)
                content_type = self.headers.get("Content-Type", "application/x-protobuf")
                with sink._lock:
                    sink.requests.append(Captured(self.path, content_type.split(";")[0], body))
                reply = b"{}" if "json" in content_type else b""
                self.send_response(200)
                self.send_header("Content-Type", content_type.split(";")[0])
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> OtlpSink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()

    @property
    def endpoint(self) -> str:
        """The base URL for OTEL_EXPORTER_OTLP_ENDPOINT (the exporter appends /v1/traces)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def take_traces(self) -> list[Captured]:
        with self._lock:
            taken = [r for r in self.requests if r.path.endswith("/v1/traces")]
            self.requests.clear()
        return taken


@dataclass
class ExpectedCall:
    """One billable provider call as the fake provider answered it (semantic-convention meaning)."""

    provider: str  # stored spelling: openai, anthropic, gcp.gemini, ...
    model: str  # the model the fake provider answered with
    operation: str  # chat, embeddings, text_completion, generate_content
    usage: Usage
    # What the span can express when the emitter drops part of the usage; None: all of it.
    expressible: Usage | None = None
    limit: str = ""  # why expressible differs from usage, naming the attribute the emitter would need


@dataclass
class Fixture:
    peer: str  # e.g. openllmetry-openai
    case: str  # e.g. chat, stream, cached, cache_1h, reasoning, embeddings, responses, long_context, agent
    versions: dict[str, str]
    calls: list[ExpectedCall]
    requests: list[Captured] = field(default_factory=list)
    notes: str = ""

    def write(self, root: Path = FIXTURES) -> Path:
        path = root / self.peer / f"{self.case}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "peer": self.peer,
            "case": self.case,
            "captured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "versions": self.versions,
            "notes": self.notes,
            "calls": [
                {
                    "provider": call.provider,
                    "model": call.model,
                    "operation": call.operation,
                    "usage": asdict(call.usage),
                    "expressible": None if call.expressible is None else asdict(call.expressible),
                    "limit": call.limit,
                }
                for call in self.calls
            ],
            "requests": [
                {"content_type": r.content_type, "body_b64": base64.b64encode(r.body).decode("ascii")}
                for r in self.requests
            ],
        }
        path.write_text(json.dumps(document, indent=1, sort_keys=False) + "\n")
        return path


# --- Reading captured requests back (for checking what an emitter put on its spans) ----------------


@dataclass
class SpanView:
    """One exported span, flattened: its resource, scope, name and attributes as plain values."""

    resource: dict[str, Any]
    scope: str
    name: str
    span_id: str
    parent_id: str
    attributes: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]]


def _any_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _any_value(kv.value) for kv in value.kvlist_value.values}
    return None if kind is None else getattr(value, kind)


def _attributes(pairs: Any) -> dict[str, Any]:
    return {kv.key: _any_value(kv.value) for kv in pairs}


def decode_spans(requests: list[Captured]) -> list[SpanView]:
    """Every span of the protobuf trace export requests, in the order they were sent."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    spans: list[SpanView] = []
    for captured in requests:
        message = ExportTraceServiceRequest.FromString(captured.body)
        for resource_spans in message.resource_spans:
            resource = _attributes(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    events = [(e.name, _attributes(e.attributes)) for e in span.events]
                    spans.append(
                        SpanView(
                            resource,
                            scope_spans.scope.name,
                            span.name,
                            span.span_id.hex(),
                            span.parent_span_id.hex(),
                            _attributes(span.attributes),
                            events,
                        )  # fmt: skip
                    )
    return spans


def where_number_appears(spans: list[SpanView], number: int) -> list[str]:
    """The span attributes (events and resources included) whose value is, or whose text holds, number."""
    found: list[str] = []
    # A whole number inside text: not part of a longer number, an id or a hex string.
    needle = re.compile(rf"(?<![0-9A-Za-z.]){number}(?![0-9A-Za-z])")

    def look(label: str, values: dict[str, Any]) -> None:
        for key, value in values.items():
            if isinstance(value, bool):
                continue
            if isinstance(value, int | float) and value == number:
                found.append(f"{label}{key}")
            elif isinstance(value, str | list | dict) and needle.search(json.dumps(value)):
                found.append(f"{label}{key} (inside text)")

    for span in spans:
        look(f"{span.name}: ", span.attributes)
        look(f"{span.name} resource: ", span.resource)
        for event_name, attributes in span.events:
            look(f"{span.name} event {event_name}: ", attributes)
    return found


def spans_of(spans: list[SpanView], model: str) -> list[SpanView]:
    """The spans that name the model, with their children (all spans when none names it)."""
    named = {
        s.span_id for s in spans
        if any(isinstance(v, str) and (v == model or v.endswith("/" + model)) for v in s.attributes.values())
    }  # fmt: skip
    own = [s for s in spans if s.span_id in named or s.parent_id in named]
    return own or spans


def unseen_usage(fixture: Fixture) -> list[str]:
    """Each usage number of each call (its expressible usage where set) that appears on none of its spans.

    A check for the capture scripts, not proof: a count seen on a span may still be read wrongly.
    Input counts as seen in either meaning (with or without the cache reads and writes).
    """
    spans = decode_spans(fixture.requests)
    unseen = []
    for call in fixture.calls:
        own = spans_of(spans, call.model)
        usage = call.expressible or call.usage
        for name, number in asdict(usage).items():
            candidates = {number, usage.uncached_input} if name == "input_tokens" else {number}
            if number and not any(where_number_appears(own, n) for n in candidates):
                unseen.append(f"{call.provider}/{call.model} {name}={number}")
    return unseen


def print_spans(fixture: Fixture) -> None:
    """Every span of the fixture with all its attributes and events (long values cut)."""
    spans = decode_spans(fixture.requests)
    if spans:
        print(f"    resource: {json.dumps(spans[0].resource)[:400]}")
    for span in spans:
        print(f"    [{span.scope}] {span.name} id={span.span_id} parent={span.parent_id or '-'}")
        for key, value in sorted(span.attributes.items()):
            print(f"        {key} = {str(value)[:300]}")
        for name, attributes in span.events:
            print(f"        event {name}: {json.dumps(attributes)[:300]}")


def contradicted_limits(fixture: Fixture) -> list[str]:
    """Usage numbers that a call's limit says no span carries, yet one of its spans does."""
    spans = decode_spans(fixture.requests)
    seen = []
    for call in fixture.calls:
        if call.expressible is None:
            continue
        own = spans_of(spans, call.model)
        for name, number in asdict(call.usage).items():
            if number and number != getattr(call.expressible, name):
                seen += [f"{call.model} {name}={number} on {at}" for at in where_number_appears(own, number)]
    return seen
