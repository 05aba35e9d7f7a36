"""The same guarantees with decoding, normalising and pricing in worker processes (processors.batch.workers)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.sdk.trace.export import SpanExportResult

from .conftest import RunningCollector, chat_attributes, collector_running, make_spans
from .test_ingest_e2e import _rollups_match_raw

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def with_workers(chdb_dsn: str) -> Iterator[RunningCollector]:
    with collector_running(chdb_dsn, workers=2) as running:
        yield running


def test_exporter_spans_are_priced_once_and_rolled_up_through_workers(with_workers: RunningCollector) -> None:
    spans = make_spans([{"attributes": chat_attributes("claude-sonnet-4-5", "anthropic")} for _ in range(30)])
    grpc_exporter = GrpcExporter(endpoint=with_workers.grpc_endpoint, insecure=True)
    for _ in range(3):
        assert grpc_exporter.export(spans) == SpanExportResult.SUCCESS
    http_exporter = HttpExporter(endpoint=with_workers.http_url + "/v1/traces")
    assert http_exporter.export(spans[:10]) == SpanExportResult.SUCCESS
    ids = ", ".join(f"'{format(s.context.span_id, '016x')}'" for s in spans)
    rows = with_workers.rows(
        f"SELECT count(), uniqExact(span_id), min(pricing_status), sum(total_cost) > 0 FROM {{db}}.llm_spans "
        f"WHERE lower(hex(span_id)) IN ({ids})"
    )
    assert rows == [(30, 30, "priced", True)]
    _rollups_match_raw(with_workers)


def test_undecodable_bodies_are_rejected_by_name_and_the_server_keeps_serving(
    with_workers: RunningCollector,
) -> None:
    body = encode_spans(make_spans([{"attributes": chat_attributes()}])).SerializeToString()
    url = with_workers.http_url + "/v1/traces"
    truncated = httpx.post(url, content=body[:-7], headers={"content-type": "application/x-protobuf"})
    assert truncated.status_code == 400
    bad_json = httpx.post(url, content=b"{not json", headers={"content-type": "application/json"})
    assert bad_json.status_code == 400 and "not valid JSON" in bad_json.json()["message"]
    good = httpx.post(url, content=body, headers={"content-type": "application/x-protobuf"})
    assert good.status_code == 200


def test_a_span_with_bad_usage_is_rejected_alone(with_workers: RunningCollector) -> None:
    spans = make_spans(
        [
            {"attributes": chat_attributes(**{"gen_ai.usage.input_tokens": -5})},
            {"attributes": chat_attributes()},
        ]
    )
    response = httpx.post(
        with_workers.http_url + "/v1/traces",
        content=encode_spans(spans).SerializeToString(),
        headers={"content-type": "application/x-protobuf"},
    )
    reply = trace_service_pb2.ExportTraceServiceResponse.FromString(response.content)
    assert reply.partial_success.rejected_spans == 1
    assert "gen_ai.usage.input_tokens=-5 is negative" in reply.partial_success.error_message
    good_id = format(spans[1].context.span_id, "016x")
    assert (
        with_workers.scalar(f"SELECT count() FROM {{db}}.llm_spans WHERE lower(hex(span_id)) = '{good_id}'")
        == 1
    )
