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
import threading
import time
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from spendgate.instrumentation.fake_provider.formats import Usage

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "interop" / "fixtures"


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
