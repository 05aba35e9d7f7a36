"""`spendgate evaluator`'s own metrics: Prometheus on a listener of its own and OTLP/gRPC push.

chDB allows one data path per process: a collector process stores the calls, stops, and then the
evaluator process evaluates the same path; the test process never opens it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from prometheus_client.parser import text_string_to_metric_families

from .collector_process import collector_sql, start_collector_process
from .conftest import chat_attributes, clear_of_midnight, free_port, make_spans, wait_until
from .metric_sinks import GrpcMetricsSink

# One file for the collector (evaluator: external) and the evaluator, as README's deployment has it.
CONFIG = """
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc}"}}
      http: {{endpoint: "127.0.0.1:{http}"}}
processors:
  batch: {{timeout: 20ms}}
exporters:
  clickhouse:
    endpoint: "chdb://{data}"
extensions:
  budgets:
    evaluate_every: 200ms
    evaluator: external
    defaults:
      - {{id: eval-cost, scope_type: project, scope_id: shop, limit: 10, period: month}}
      - {{id: eval-calls, scope_type: project, scope_id: shop, metric: calls, limit: 10, period: month}}
service:
  telemetry:
    metrics:
      readers:
        - pull: {{exporter: {{prometheus: {{host: 127.0.0.1, port: {port}}}}}}}
        - periodic:
            interval: 200ms
            exporter: {{otlp: {{protocol: grpc, endpoint: "{sink}"}}}}
"""

Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


def _start_evaluator(config: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The evaluator process and the URL of its metrics, from its ready line."""
    process = subprocess.Popen(
        [sys.executable, "-m", "spendgate", "evaluator", "--config", str(config)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while "ready:" not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the evaluator did not start:\n" + log.read_text())
        time.sleep(0.05)
    ready = next(line for line in log.read_text().splitlines() if "ready:" in line)
    return process, ready.rpartition(" metrics=")[2]


def _scrape(url: str) -> Samples:
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, response.text
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def _budget(samples: Samples, name: str, budget_id: str) -> float | None:
    values = [v for key, v in samples.get(name, {}).items() if dict(key).get("budget_id") == budget_id]
    assert len(values) <= 1, values
    return values[0] if values else None


def _store_calls(config: Path, tmp_path: Path, grpc_port: int, calls: int) -> Decimal:
    """``calls`` LLM calls of project shop, stored by a collector process that then stops; their cost."""
    collector = start_collector_process(config, tmp_path / "collector.log")
    try:
        spans = make_spans([{"attributes": chat_attributes(**{"spendgate.project": "shop"})}] * calls)
        exporter = GrpcExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True, timeout=30)
        assert exporter.export(spans).name == "SUCCESS"  # acknowledged once stored
    finally:
        collector.send_signal(signal.SIGTERM)
        assert collector.wait(60) == 0
    (cost,) = collector_sql(config, "SELECT toString(sum(total_cost)) FROM spendgate.llm_spans")[0]
    return Decimal(str(cost))


def test_the_evaluator_serves_and_pushes_its_runs_and_every_budget_scope(tmp_path: Path) -> None:
    clear_of_midnight()  # the calls stay in this month's period
    sink = GrpcMetricsSink()
    grpc_port = free_port()
    values = {"grpc": grpc_port, "http": free_port(), "data": tmp_path / "data", "sink": sink.endpoint}
    config = tmp_path / "otel-config.yaml"
    config.write_text(CONFIG.format(port=0, **values))  # port 0: any free port, named in the ready line
    try:
        cost = _store_calls(config, tmp_path, grpc_port, 3)
        assert cost > 0
        sink.names.clear()  # the collector pushed its own: from here on, only the evaluator's
        sink.services.clear()
        evaluator, url = _start_evaluator(config, tmp_path / "evaluator.log")
        try:
            assert url.startswith("http://127.0.0.1:") and url.endswith("/metrics")
            wait_until(lambda: _budget(_scrape(url), "spendgate_budget_spend_calls", "eval-calls") == 3, 15,
                       "an evaluation of the stored calls")  # fmt: skip
            samples = _scrape(url)
            assert next(iter(samples["spendgate_evaluator_runs_total"])) == (("outcome", "ok"),)
            assert samples["spendgate_evaluator_runs_total"][(("outcome", "ok"),)] >= 1
            assert samples["spendgate_evaluator_duration_seconds_count"][(("outcome", "ok"),)] >= 1
            assert _budget(samples, "spendgate_budget_limit_calls", "eval-calls") == 10
            assert _budget(samples, "spendgate_budget_utilization_ratio", "eval-calls") == pytest.approx(0.3)
            assert _budget(samples, "spendgate_budget_spend_usd", "eval-cost") == pytest.approx(float(cost))
            assert _budget(samples, "spendgate_budget_limit_usd", "eval-cost") == 10
            assert "spendgate_spans_received_total" not in samples  # no receivers here
            service = {dict(key)["service_name"] for key in samples["target_info"]}
            assert service == {"spendgate-evaluator"}
            wanted = {
                "spendgate.evaluator.runs",
                "spendgate.evaluator.duration",
                "spendgate.budget.spend_calls",
            }
            wait_until(lambda: wanted <= sink.names, 15, f"an OTLP/gRPC export with {wanted}")
            assert sink.services == {"spendgate-evaluator"}
            _a_taken_port_is_a_clear_error(tmp_path, values, int(url.rpartition(":")[2].split("/")[0]))
        finally:
            evaluator.send_signal(signal.SIGTERM)
            assert evaluator.wait(30) == 0
    finally:
        sink.stop()


def _a_taken_port_is_a_clear_error(tmp_path: Path, values: dict[str, object], port: int) -> None:
    """A second evaluator on the first one's port stops at once (before it opens the storage)."""
    config = tmp_path / "taken.yaml"
    config.write_text(CONFIG.format(port=port, **values))
    done = subprocess.run([sys.executable, "-m", "spendgate", "evaluator", "--config", str(config)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2
    assert f"spendgate evaluator: cannot serve metrics on 127.0.0.1:{port}" in done.stderr
