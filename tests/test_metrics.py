"""The collector's own metrics: GET /metrics (Prometheus) and OTLP push, on one collector seeded once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from prometheus_client.parser import text_string_to_metric_families
from spendgate.collector.api.auth import digest
from spendgate.collector.budgets.model import Budget, Evaluation
from spendgate.collector.config import ConfigError, parse_config
from spendgate.collector.ingest.otlp import SERVICE_NAME
from spendgate.collector.telemetry import Telemetry

from spendgate.proto import flags_pb2 as pb
from spendgate.proto import flags_pb2_grpc

from .conftest import RunningCollector, chat_attributes, collector_running, make_spans, wait_until
from .metric_sinks import GrpcMetricsSink

KEYS = {"ingest": "sg_metrics_ingest", "read": "sg_metrics_read"}
LIMIT = Decimal(10)


class _OtlpMetrics:
    """A bare OTLP/HTTP metrics endpoint: keeps the metric names of every export it receives."""

    def __init__(self) -> None:
        names: set[str] = set()
        self.names = names

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = ExportMetricsServiceRequest.FromString(body)
                for resource in request.resource_metrics:
                    for scope in resource.scope_metrics:
                        names.update(metric.name for metric in scope.metrics)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _config(otlp_url: str, grpc_endpoint: str) -> str:
    keys = "".join(
        f"      - {{name: {role}, sha256: {digest(key)}, roles: [{role}]}}\n" for role, key in KEYS.items()
    )
    return f"""
extensions:
  budgets:
    evaluate_every: 200ms
    defaults:
      - {{id: metrics-shop, scope_type: project, scope_id: shop, limit: {LIMIT}, period: month}}
      - {{id: metrics-tokens, scope_type: project, scope_id: shop, metric: tokens, limit: 100000, period: day}}
  auth:
    api_keys:
{keys}
service:
  telemetry:
    metrics:
      readers:
        - pull: {{exporter: {{prometheus: {{}}}}}}
        - periodic:
            interval: 200ms
            exporter: {{otlp: {{protocol: http/protobuf, endpoint: "{otlp_url}"}}}}
        - periodic:
            interval: 200ms
            exporter: {{otlp: {{protocol: grpc, endpoint: "{grpc_endpoint}", headers: {{x-sink: metrics}}}}}}
"""


def _llm(count: int) -> list[Any]:
    return make_spans(
        [{"attributes": chat_attributes(**{"spendgate.project": "shop"})} for _ in range(count)]
    )


@pytest.fixture(scope="module")
def otlp_sink() -> Iterator[_OtlpMetrics]:
    sink = _OtlpMetrics()
    yield sink
    sink.server.shutdown()


@pytest.fixture(scope="module")
def grpc_sink() -> Iterator[GrpcMetricsSink]:
    sink = GrpcMetricsSink()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def seeded(chdb_dsn: str, otlp_sink: _OtlpMetrics, grpc_sink: GrpcMetricsSink) -> Iterator[RunningCollector]:
    """3 LLM spans and one HTTP span over gRPC; 2 LLM spans and one with a negative token count over
    HTTP; one undecodable HTTP body."""
    with collector_running(chdb_dsn, _config(otlp_sink.url, grpc_sink.endpoint)) as running:
        auth = {"authorization": f"Bearer {KEYS['ingest']}"}
        other = make_spans([{"name": "GET /", "attributes": {"http.request.method": "GET"}}])
        grpc = GrpcExporter(endpoint=running.grpc_endpoint, insecure=True, headers=auth, timeout=10)
        assert grpc.export(_llm(3) + other).name == "SUCCESS"
        http = HttpExporter(endpoint=running.http_url + "/v1/traces", headers=auth, timeout=10)
        negative = make_spans([{"attributes": chat_attributes(**{"gen_ai.usage.input_tokens": -5})}])
        assert http.export(_llm(2) + negative).name == "SUCCESS"  # a partial success
        bad = httpx.post(
            running.http_url + "/v1/traces",
            content=b"\xff not protobuf",
            headers={**auth, "Content-Type": "application/x-protobuf"},
        )
        assert bad.status_code == 400
        yield running


def _scrape(running: RunningCollector) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every sample by name, then by its sorted labels."""
    response = httpx.get(running.http_url + "/metrics", headers={"Authorization": f"Bearer {KEYS['read']}"})
    assert response.status_code == 200, response.text
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def _value(samples: dict[str, dict[tuple[tuple[str, str], ...], float]], name: str, **labels: str) -> float:
    wanted = set(labels.items())
    matching = [value for key, value in samples.get(name, {}).items() if wanted <= set(key)]
    assert len(matching) == 1, f"{name}{labels}: {samples.get(name)}"
    return matching[0]


def test_ingest_counts_match_what_was_sent_and_stored(seeded: RunningCollector) -> None:
    stored = seeded.scalar("SELECT count() FROM {db}.llm_spans")
    assert stored == 5
    samples = _scrape(seeded)
    assert _value(samples, "spendgate_spans_received_total", transport="grpc") == 4
    assert _value(samples, "spendgate_spans_received_total", transport="http") == 3
    assert _value(samples, "spendgate_spans_dropped_total", transport="grpc", reason="not_llm") == 1
    assert _value(samples, "spendgate_spans_stored_total") == stored
    assert _value(samples, "spendgate_spans_deduplicated_total") == 0
    assert _value(samples, "spendgate_requests_rejected_total", transport="http", reason="bad_request") == 1
    assert _value(samples, "spendgate_spans_rejected_total", transport="http", reason="invalid") == 1
    assert set(samples["spendgate_spans_rejected_total"]) == {(("reason", "invalid"), ("transport", "http"))}
    assert _value(samples, "spendgate_writer_inserts_total", outcome="ok") >= 1
    assert _value(samples, "spendgate_writer_inserts_total", outcome="failed") == 0
    assert _value(samples, "spendgate_writer_queue_size") == 0
    inserts = _value(samples, "spendgate_insert_duration_seconds_count", outcome="ok")
    assert inserts == _value(samples, "spendgate_writer_inserts_total", outcome="ok")
    assert _value(samples, "spendgate_insert_duration_seconds_bucket", outcome="ok", le="+Inf") == inserts
    assert _value(samples, "spendgate_evaluator_runs_total", outcome="ok") >= 1
    assert _value(samples, "spendgate_evaluator_duration_seconds_count", outcome="ok") >= 1
    assert _value(samples, "spendgate_flag_watchers") == 0


def test_names_follow_the_prometheus_conventions(seeded: RunningCollector) -> None:
    samples = _scrape(seeded)
    ours = [name for name in samples if name != "target_info"]
    assert ours and all(name.startswith("spendgate_") for name in ours)
    # No per-call labels: only these, whatever was sent.
    labels = {label for name in ours for key in samples[name] for label, _ in key}
    allowed = {"transport", "reason", "outcome", "le"} | {
        "budget_id",
        "scope_type",
        "scope_id",
        "metric",
        "period",
    }
    assert labels <= allowed
    assert _value(samples, "target_info", service_name="spendgate-collector") == 1


def test_each_budget_scope_shows_its_spend_limit_and_utilisation(seeded: RunningCollector) -> None:
    cost = Decimal(seeded.scalar("SELECT toString(sum(total_cost)) FROM {db}.llm_spans"))
    tokens = seeded.scalar("SELECT sum(input_tokens + output_tokens) FROM {db}.llm_spans")
    assert cost > 0
    shop = {"budget_id": "metrics-shop", "scope_type": "project", "scope_id": "shop", "period": "month"}

    def evaluated() -> bool:
        spend = _scrape(seeded).get("spendgate_budget_spend_usd", {})
        seen = [value for key, value in spend.items() if dict(key).get("budget_id") == "metrics-shop"]
        return seen == [pytest.approx(float(cost))]

    wait_until(evaluated, 15, "an evaluation that counts every seeded span")
    samples = _scrape(seeded)
    spend = _value(samples, "spendgate_budget_spend_usd", metric="cost", **shop)
    assert spend == pytest.approx(float(cost))
    assert _value(samples, "spendgate_budget_limit_usd", **shop) == float(LIMIT)
    assert _value(samples, "spendgate_budget_utilization_ratio", **shop) == pytest.approx(float(cost / LIMIT))
    per_day = {"budget_id": "metrics-tokens", "period": "day"}
    assert _value(samples, "spendgate_budget_spend_tokens", metric="tokens", **per_day) == tokens
    assert _value(samples, "spendgate_budget_limit_tokens", **per_day) == 100000
    assert "metrics-tokens" not in {dict(key)["budget_id"] for key in samples["spendgate_budget_spend_usd"]}


def test_metrics_need_the_read_role(seeded: RunningCollector) -> None:
    url = seeded.http_url + "/metrics"
    assert httpx.get(url).status_code == 401
    ingest = httpx.get(url, headers={"Authorization": f"Bearer {KEYS['ingest']}"})
    assert ingest.status_code == 403
    read = httpx.get(url, headers={"Authorization": f"Bearer {KEYS['read']}"})
    assert read.status_code == 200
    assert read.headers["content-type"].startswith("text/plain; version=0.0.4")


def test_the_same_instruments_are_pushed_over_otlp(seeded: RunningCollector, otlp_sink: _OtlpMetrics) -> None:
    wanted = {"spendgate.spans.received", "spendgate.spans.stored", "spendgate.budget.spend_usd"}
    wait_until(lambda: wanted <= otlp_sink.names, 15, f"an OTLP export with {wanted}")
    assert "spendgate.insert.duration" in otlp_sink.names


def test_the_same_instruments_are_pushed_over_otlp_grpc(
    seeded: RunningCollector, grpc_sink: GrpcMetricsSink
) -> None:
    wanted = {"spendgate.spans.received", "spendgate.spans.stored", "spendgate.budget.spend_usd"}
    wait_until(lambda: wanted <= grpc_sink.names, 15, f"an OTLP/gRPC export with {wanted}")
    assert {"spendgate.insert.duration", "spendgate.evaluator.runs"} <= grpc_sink.names
    assert grpc_sink.services == {"spendgate-collector"}
    assert ("x-sink", "metrics") in grpc_sink.headers  # the exporter's configured headers


def _refusals(running: RunningCollector) -> dict[tuple[str, str, str], float]:
    """Refused requests by (instrument, transport, reason)."""
    samples = _scrape(running)
    return {
        (name, dict(key)["transport"], dict(key)["reason"]): value
        for name in ("spendgate_requests_rejected_total", "spendgate_api_requests_refused_total")
        for key, value in samples.get(name, {}).items()
    }


def _grown(before: dict[Any, float], after: dict[Any, float]) -> dict[Any, float]:
    return {key: value - before.get(key, 0) for key, value in after.items() if value != before.get(key, 0)}


def test_requests_refused_for_their_key_are_counted_by_reason(seeded: RunningCollector) -> None:
    before = _refusals(seeded)
    for key in (None, KEYS["read"]):  # the real exporters: no key (401), a key without ingest (403)
        headers = {"authorization": f"Bearer {key}"} if key else {}
        over_grpc = GrpcExporter(endpoint=seeded.grpc_endpoint, insecure=True, headers=headers, timeout=5)
        assert over_grpc.export(_llm(1)).name == "FAILURE"
        over_http = HttpExporter(endpoint=seeded.http_url + "/v1/traces", headers=headers, timeout=5)
        assert over_http.export(_llm(1)).name == "FAILURE"
    assert httpx.get(seeded.http_url + "/api/v1/costs/summary").status_code == 401
    with grpc.insecure_channel(seeded.grpc_endpoint) as channel:
        watch = flags_pb2_grpc.BudgetFlagsStub(channel).Watch(pb.WatchRequest())
        with pytest.raises(grpc.RpcError) as refused:
            next(watch)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    rejected, api = "spendgate_requests_rejected_total", "spendgate_api_requests_refused_total"
    assert _grown(before, _refusals(seeded)) == {
        (rejected, "grpc", "unauthenticated"): 1,
        (rejected, "grpc", "forbidden"): 1,
        (rejected, "http", "unauthenticated"): 1,
        (rejected, "http", "forbidden"): 1,
        (api, "http", "unauthenticated"): 1,
        (api, "grpc", "unauthenticated"): 1,
    }


def test_grpc_requests_over_the_size_limit_are_refused_and_counted(seeded: RunningCollector) -> None:
    limit = 16 * 1024 * 1024  # receivers.otlp.protocols.grpc.max_recv_msg_size_mib's default
    before = _refusals(seeded)
    metadata = [("authorization", f"Bearer {KEYS['ingest']}")]
    with grpc.insecure_channel(
        seeded.grpc_endpoint, [("grpc.max_send_message_length", 3 * limit)]
    ) as channel:
        export = channel.unary_unary(f"/{SERVICE_NAME}/Export")  # raw bytes both ways
        with pytest.raises(grpc.RpcError) as refused:
            export(b"\x00" * (limit + 1), metadata=metadata, timeout=30)
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert f"exceeds the limit of {limit} bytes" in str(refused.value.details())
        assert _grown(before, _refusals(seeded)) == {
            ("spendgate_requests_rejected_total", "grpc", "too_large"): 1
        }
        # Beyond twice the limit grpcio refuses the message itself, before the collector sees it.
        with pytest.raises(grpc.RpcError) as transport:
            export(b"\x00" * (2 * limit + 1), metadata=metadata, timeout=30)
        assert transport.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        empty = ExportTraceServiceResponse.FromString(export(b"", metadata=metadata, timeout=30))
    assert empty.partial_success.rejected_spans == 0  # a request within the limit goes through
    assert _grown(before, _refusals(seeded)) == {
        ("spendgate_requests_rejected_total", "grpc", "too_large"): 1
    }


def test_openapi_documents_the_metrics_route(seeded: RunningCollector) -> None:
    schema = httpx.get(seeded.http_url + "/openapi.json").json()
    route = schema["paths"]["/metrics"]["get"]
    assert route["summary"] == "Prometheus metrics"
    assert (
        "spendgate_spans_received_total"
        in route["responses"]["200"]["content"]["text/plain; version=0.0.4; charset=utf-8"]["example"]
    )


def test_metrics_config_is_checked() -> None:
    both = """
service:
  telemetry:
    metrics:
      readers:
        - pull: {exporter: {prometheus: {}}}
          periodic: {exporter: {otlp: {endpoint: "http://x:4317"}}}
"""
    with pytest.raises(ConfigError, match=r"service\.telemetry\.metrics\.readers\.0: .*either pull"):
        parse_config(both)
    with pytest.raises(ConfigError, match=r"service\.telemetry\.metrics\.level"):
        parse_config("service: {telemetry: {metrics: {level: loud}}}")
    with pytest.raises(ConfigError, match=r"otlp\.protocol"):
        parse_config(
            "service: {telemetry: {metrics: {readers: [{periodic: {exporter: {otlp: "
            "{endpoint: 'http://x:4317', protocol: thrift}}}}]}}}"
        )
    off = parse_config("service: {telemetry: {metrics: {level: none}}}").service.telemetry.metrics
    assert not off.prometheus and not off.periodic
    push_only = parse_config(
        "service: {telemetry: {metrics: {readers: [{periodic: {exporter: {otlp: {endpoint: 'http://x:4317'}}}}]}}}"
    ).service.telemetry.metrics
    assert not push_only.prometheus and push_only.periodic[0].exporter.otlp.protocol == "grpc"


def _evaluation(budget_id: str, spend: str) -> Evaluation:
    budget = Budget(id=budget_id, scope_type="team", scope_id="core", limit=Decimal(4))
    now = datetime.now(UTC)
    return Evaluation(budget, "core", now, now, Decimal(spend), 3, "ok", Decimal(spend) * 25)


def _budget_series(telemetry: Telemetry) -> dict[str, float]:
    families = text_string_to_metric_families(telemetry.scrape().decode())
    return {
        sample.labels["budget_id"]: sample.value
        for family in families
        if family.name == "spendgate_budget_spend_usd"
        for sample in family.samples
    }


def test_budget_series_follow_the_last_evaluation_and_the_level() -> None:
    normal = Telemetry(parse_config("").service.telemetry.metrics)
    basic = Telemetry(
        parse_config("service: {telemetry: {metrics: {level: basic}}}").service.telemetry.metrics
    )
    try:
        for telemetry in (normal, basic):
            telemetry.evaluated([_evaluation("a", "1.5"), _evaluation("b", "0.25")], 0.01)
        assert _budget_series(normal) == {"a": 1.5, "b": 0.25}
        normal.evaluated([_evaluation("a", "2")], 0.01)  # b was deleted: its series goes
        assert _budget_series(normal) == {"a": 2.0}
        assert _budget_series(basic) == {}
        assert "spendgate_evaluator_runs_total" in basic.scrape().decode()
    finally:
        normal.shutdown()
        basic.shutdown()


def test_flag_watchers_count_connected_agents(seeded: RunningCollector) -> None:
    channel = grpc.insecure_channel(seeded.grpc_endpoint)
    stub = flags_pb2_grpc.BudgetFlagsStub(channel)
    stream = stub.Watch(pb.WatchRequest(), metadata=[("authorization", f"Bearer {KEYS['ingest']}")])
    try:
        next(stream)  # the first snapshot: the watcher is registered
        wait_until(lambda: _value(_scrape(seeded), "spendgate_flag_watchers") == 1, 10, "one watcher")
    finally:
        stream.cancel()
        channel.close()
    wait_until(lambda: _value(_scrape(seeded), "spendgate_flag_watchers") == 0, 10, "no watcher")
