"""What the real third-party instrumentations send is stored once per call and priced exactly.

The fixtures under tests/interop/fixtures were captured from real runs of each
peer (OpenLLMetry, OpenInference, OpenLIT, LiteLLM, Pydantic AI, the anthropic
SDK's own tracing, the official contrib instrumentations, the Vercel AI SDK)
against the fake provider with known usage, by tools/interop/capture.py and
capture_vercel.py; tests/interop/README.md says how to capture them again.
Each fixture's export requests are replayed through a running collector over
OTLP/HTTP, and every stored row is compared with genai_prices.calc_price on the
usage the provider sent. ``pytest -m interop`` reruns the live capture and checks that.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from genai_prices import Usage, calc_price
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from .conftest import REPO, RunningCollector, collector_running
from .test_ingest_e2e import _rollups_match_raw

FIXTURE_DIR = REPO / "tests" / "interop" / "fixtures"
FIXTURES = sorted(FIXTURE_DIR.glob("*/*.json"))
# The stored provider -> genai-prices provider id, for the expected price.
_CATALOGUE = {"openai": "openai", "anthropic": "anthropic", "gcp.gemini": "google", "gcp.vertex_ai": "google"}
_TOKEN_COLUMNS = (
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cache_write_1h_tokens",
    "reasoning_tokens",
)  # fmt: skip


def _rebased(body: bytes, content_type: str, now_ns: int) -> tuple[bytes, set[bytes]]:
    """The request with its spans moved to end now (captures age; retention would drop them)."""
    request = ExportTraceServiceRequest()
    if "json" in content_type:
        json_format.Parse(body, request)
    else:
        request.ParseFromString(body)
    spans = [s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]
    shift = now_ns - max((s.end_time_unix_nano for s in spans), default=now_ns)
    for span in spans:
        span.start_time_unix_nano += shift
        span.end_time_unix_nano += shift
    return request.SerializeToString(), {bytes(s.trace_id) for s in spans}


def _post(url: str, body: bytes) -> dict[str, Any]:
    response = httpx.post(
        url + "/v1/traces", content=body, headers={"Content-Type": "application/x-protobuf"}, timeout=30
    )
    assert response.status_code == 200, response.text
    decoded = ExportTraceServiceResponse.FromString(response.content)
    return {
        "rejected": decoded.partial_success.rejected_spans,
        "message": decoded.partial_success.error_message,
    }


def _expected(call: dict[str, Any]) -> dict[str, int]:
    usage = call["expressible"] or call["usage"]
    return {column: int(usage.get(column, 0)) for column in _TOKEN_COLUMNS}


def _price(call: dict[str, Any], started: datetime) -> Any:
    usage = _expected(call)
    priced = calc_price(
        Usage(
            input_tokens=usage["input_tokens"],
            output_tokens=usage["output_tokens"],
            cache_read_tokens=usage["cache_read_tokens"],
            cache_write_tokens=usage["cache_write_tokens"],
            cache_write_1h_tokens=usage["cache_write_1h_tokens"] or None,
            output_reasoning_tokens=usage["reasoning_tokens"] or None,
        ),
        call["model"],
        provider_id=_CATALOGUE.get(call["provider"], call["provider"]),
        genai_request_timestamp=started,
    )
    return priced


@pytest.fixture(scope="module")
def interop(chdb_dsn: str) -> Iterator[RunningCollector]:
    with collector_running(chdb_dsn) as collector:
        yield collector


def _stored(running: RunningCollector, traces: set[bytes]) -> list[dict[str, Any]]:
    columns = ("provider", "operation", "priced_model", "pricing_status", "total_cost", "start_time",
               "input_cost", "cache_read_cost", "cache_write_cost", "output_cost",
               "emitter", "span_name", *_TOKEN_COLUMNS)  # fmt: skip
    rows = running.rows(
        f"SELECT {', '.join(columns)} FROM {{db}}.llm_spans WHERE hex(trace_id) IN {{t:Array(String)}}"
        " ORDER BY start_time",
        t=[trace.hex().upper() for trace in traces],
    )
    return [dict(zip(columns, row, strict=True)) for row in rows]


def _replay(running: RunningCollector, document: dict[str, Any]) -> tuple[set[bytes], int]:
    now_ns = time.time_ns()
    traces: set[bytes] = set()
    rejected = 0
    for request in document["requests"]:
        body, ids = _rebased(base64.b64decode(request["body_b64"]), request["content_type"], now_ns)
        traces |= ids
        reply = _post(running.http_url, body)
        rejected += reply["rejected"]
    return traces, rejected


def _describe(rows: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"  {r['emitter']:<14} {r['span_name'][:30]:<30} {r['provider']}/{r['priced_model']} {r['operation']} "
        + " ".join(f"{c.split('_tokens')[0]}={r[c]}" for c in _TOKEN_COLUMNS)
        + f" cost={r['total_cost']} ({r['pricing_status']})"
        for r in rows
    )


def _check_fixture(interop: RunningCollector, path: Path) -> None:
    document = json.loads(path.read_text())
    traces, rejected = _replay(interop, document)
    assert rejected == 0
    rows = _stored(interop, traces)
    calls = document["calls"]
    assert len(rows) == len(calls), f"{len(calls)} calls made, {len(rows)} rows stored:\n{_describe(rows)}"
    unmatched = list(rows)
    for call in calls:
        expected = _expected(call)
        match = next(
            (
                r
                for r in unmatched
                if r["operation"] == call["operation"] and all(r[c] == v for c, v in expected.items())
            ),
            None,
        )
        assert match is not None, f"no stored row has the usage of {call}:\n{_describe(rows)}"
        unmatched.remove(match)
        assert match["provider"] == call["provider"], _describe([match])
        assert match["pricing_status"] == "priced", _describe([match])
        started = match["start_time"].replace(tzinfo=UTC)
        price = _price(call, started)
        input_side = match["input_cost"] + match["cache_read_cost"] + match["cache_write_cost"]
        assert (match["total_cost"], input_side, match["output_cost"]) == (
            Decimal(price.total_price),
            Decimal(price.input_price),
            Decimal(price.output_price),
        ), _describe([match])
        assert match["priced_model"] == price.model.id, _describe([match])
    # A resend of the same requests (an exporter's retry) stores nothing new.
    _replay(interop, document)
    assert len(_stored(interop, traces)) == len(calls)


@pytest.mark.skipif(not FIXTURES, reason="no interop fixtures captured")
@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_call_is_stored_once_at_its_exact_price(interop: RunningCollector, path: Path) -> None:
    _check_fixture(interop, path)


@pytest.mark.interop
def test_live_capture_of_every_peer_is_stored_once_at_its_exact_price(
    interop: RunningCollector, tmp_path: Path
) -> None:
    """Runs the real peers now (tools/interop; needs the package registries for the first
    virtualenvs and `npm ci` in tools/interop/vercel/v*) and replays what they sent."""
    env = {**os.environ, "SPENDGATE_INTEROP_FIXTURES": str(tmp_path)}
    for script in ("capture.py", "capture_vercel.py"):
        done = subprocess.run(
            [sys.executable, str(REPO / "tools" / "interop" / script)], env=env, timeout=3000, check=False
        )
        assert done.returncode == 0, f"{script} failed"
    captured = sorted(tmp_path.glob("*/*.json"))
    assert len(captured) >= len(FIXTURES) * 0.9, "the live capture wrote far fewer fixtures than are kept"
    for path in captured:
        _check_fixture(interop, path)


@pytest.mark.skipif(not FIXTURES, reason="no interop fixtures captured")
def test_rollups_equal_the_raw_rows_after_every_fixture(interop: RunningCollector) -> None:
    for path in FIXTURES:
        _replay(interop, json.loads(path.read_text()))
    _rollups_match_raw(interop)
