"""Spans sent by the real OTLP exporters land priced in ClickHouse and the rollups, exactly once."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal

import httpx
from genai_prices import Usage, calc_price
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.trace.export import SpanExportResult

from .conftest import RunningCollector, chat_attributes, make_spans


def _rollups_match_raw(running: RunningCollector) -> None:
    raw_total, raw_calls = running.rows("SELECT sum(total_cost), count() FROM {db}.llm_spans")[0]
    # Every span has exactly one global, provider and model scope row.
    for scope_type in ("global", "provider", "model"):
        hourly = running.rows(
            "SELECT sum(total_cost), sum(calls) FROM {db}.spend_by_scope_hourly WHERE scope_type = {t:String}",
            t=scope_type,
        )[0]
        assert hourly == (raw_total, raw_calls), scope_type
    daily = running.rows("SELECT sum(total_cost), sum(calls) FROM {db}.spend_daily")[0]
    raw_savings = running.scalar("SELECT sum(cache_savings) FROM {db}.llm_spans")
    assert running.scalar("SELECT sum(cache_savings) FROM {db}.spend_daily") == raw_savings
    monthly = running.rows("SELECT sum(total_cost), sum(calls) FROM {db}.spend_monthly")[0]
    assert daily == (raw_total, raw_calls)
    assert monthly == (raw_total, raw_calls)


def test_grpc_exporter_spans_are_priced_and_rolled_up(running: RunningCollector) -> None:
    spans = make_spans(
        [
            {
                "attributes": chat_attributes(
                    "gpt-4o", "openai", **{"spendgate.project": "web", "spendgate.agent": "coder"}
                )
            },
            {
                "name": "chat claude-sonnet-4-5",
                "attributes": chat_attributes(
                    "claude-sonnet-4-5",
                    "anthropic",
                    **{
                        "gen_ai.usage.cache_read.input_tokens": 400,
                        "spendgate.project": "web",
                        "spendgate.ticket": "T-1",
                    },
                ),
            },
            {"name": "invoke_agent coder", "attributes": {"gen_ai.operation.name": "invoke_agent"}},
            {"name": "GET /", "attributes": {"http.method": "GET"}},
        ]
    )
    exporter = GrpcExporter(endpoint=running.grpc_endpoint, insecure=True)
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    rows = running.rows(
        "SELECT provider, priced_model, pricing_status, input_tokens, cache_read_tokens, total_cost, project, agent, "
        "ticket, service, start_time, cache_savings FROM {db}.llm_spans ORDER BY provider"
    )
    assert len(rows) == 2  # invoke_agent and the HTTP span are not priced
    anthropic, openai = rows
    assert anthropic[:5] == ("anthropic", "claude-sonnet-4-5", "priced", 1000, 400)
    expected = calc_price(
        Usage(input_tokens=1000, output_tokens=200, cache_read_tokens=400, cache_write_tokens=0),
        "claude-sonnet-4-5",
        provider_id="anthropic",
        genai_request_timestamp=anthropic[10].replace(tzinfo=UTC),
    ).total_price
    assert anthropic[5] == expected
    uncached = calc_price(
        Usage(input_tokens=1000, output_tokens=200),
        "claude-sonnet-4-5",
        provider_id="anthropic",
        genai_request_timestamp=anthropic[10].replace(tzinfo=UTC),
    ).total_price
    assert anthropic[11] == uncached - expected > 0
    assert openai[:3] == ("openai", "gpt-4o", "priced")
    assert openai[6:10] == ("web", "coder", "", "agent-svc")
    assert (
        running.scalar(
            "SELECT sum(total_cost) FROM {db}.spend_by_scope_hourly WHERE scope_type='project' AND scope_id='web'"
        )
        == anthropic[5] + openai[5]
    )
    assert running.scalar("SELECT count() FROM {db}.spend_by_scope_hourly WHERE scope_type='ticket'") == 1
    _rollups_match_raw(running)
    stats = httpx.get(running.http_url + "/healthz").json()
    assert stats["pipeline"]["non_llm_spans"] == 2


def test_http_protobuf_exporter(running: RunningCollector) -> None:
    spans = make_spans([{"attributes": chat_attributes("gpt-4o-mini")} for _ in range(50)])
    exporter = HttpExporter(endpoint=running.http_url + "/v1/traces")
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    assert running.scalar("SELECT count() FROM {db}.llm_spans WHERE request_model='gpt-4o-mini'") == 50
    _rollups_match_raw(running)


def _otlp_json(spans: list) -> dict:
    """The OTLP/JSON encoding of spans: hex ids, int64 as strings."""
    document = json_format.MessageToDict(encode_spans(spans))

    def hexify(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str):
                    node[key] = base64.b64decode(value).hex()
                else:
                    hexify(value)
        elif isinstance(node, list):
            for item in node:
                hexify(item)

    hexify(document)
    return document


def test_http_json_body(running: RunningCollector) -> None:
    spans = make_spans([{"attributes": chat_attributes("gpt-4o", **{"spendgate.team": "search"})}])
    document = _otlp_json(spans)
    assert "intValue" in json.dumps(document)
    reply = httpx.post(running.http_url + "/v1/traces", json=document)
    assert reply.status_code == 200, reply.text
    assert reply.json() == {}
    row = running.rows("SELECT trace_id, span_id, team FROM {db}.llm_spans")[0]
    assert bytes(row[0]).hex() == format(spans[0].context.trace_id, "032x")
    assert bytes(row[1]).hex() == format(spans[0].context.span_id, "016x")
    assert row[2] == "search"


def test_same_request_three_times_and_same_span_in_other_requests_count_once(
    running: RunningCollector,
) -> None:
    spans = make_spans([{"attributes": chat_attributes("gpt-4o")} for _ in range(20)])
    exporter = GrpcExporter(endpoint=running.grpc_endpoint, insecure=True)
    for _ in range(3):
        assert exporter.export(spans) == SpanExportResult.SUCCESS
    http = HttpExporter(endpoint=running.http_url + "/v1/traces")
    assert (
        http.export(spans[5:12] + make_spans([{"attributes": chat_attributes("gpt-4o")}]))
        == SpanExportResult.SUCCESS
    )
    assert running.scalar("SELECT count() FROM {db}.llm_spans") == 21
    assert running.scalar("SELECT uniqExact(trace_id, span_id) FROM {db}.llm_spans") == 21
    _rollups_match_raw(running)


def test_unknown_model_uses_fallback_price_and_is_visible(running: RunningCollector) -> None:
    spans = make_spans([{"attributes": chat_attributes("totally-new-model-9000", "acme")}])
    assert (
        GrpcExporter(endpoint=running.grpc_endpoint, insecure=True).export(spans) == SpanExportResult.SUCCESS
    )
    status, cost = running.rows("SELECT pricing_status, total_cost FROM {db}.llm_spans")[0]
    assert status == "fallback"
    # default fallback: $15 / $75 per million tokens
    assert cost == Decimal(1000) * 15 / 1_000_000 + Decimal(200) * 75 / 1_000_000


def test_unknown_embedding_model_uses_the_embeddings_fallback(running: RunningCollector) -> None:
    embeddings = {"gen_ai.operation.name": "embeddings", "gen_ai.usage.output_tokens": 0}
    spans = make_spans([
        {"name": "embeddings acme-embed-v2", "attributes": chat_attributes("acme-embed-v2", "acme", **embeddings)},
        {"attributes": chat_attributes("acme-embed-v2", "acme")},  # the same unknown model, as chat
    ])  # fmt: skip
    assert (
        GrpcExporter(endpoint=running.grpc_endpoint, insecure=True).export(spans) == SpanExportResult.SUCCESS
    )
    rows = running.rows("SELECT operation, pricing_status, total_cost FROM {db}.llm_spans ORDER BY operation")
    # default embeddings fallback: $0.20 per million input tokens, never the chat rate
    assert rows == [
        ("chat", "fallback", Decimal(1000) * 15 / 1_000_000 + Decimal(200) * 75 / 1_000_000),
        ("embeddings", "fallback", Decimal(1000) * Decimal("0.20") / 1_000_000),
    ]


def test_start_time_is_used_for_price_history(running: RunningCollector) -> None:
    spans = make_spans([{"attributes": chat_attributes("gpt-4o")}])
    GrpcExporter(endpoint=running.grpc_endpoint, insecure=True).export(spans)
    start = running.scalar("SELECT start_time FROM {db}.llm_spans")
    assert abs(start.replace(tzinfo=UTC).timestamp() - spans[0].start_time / 1e9) < 1e-5
    assert start.replace(tzinfo=UTC) <= datetime.now(UTC)
