"""Ingest throughput: OTLP -> collector -> embedded ClickHouse, acknowledged after insert.

Starts a collector process on a fresh chDB path, then measures
  1. baseline: protobuf decode of the same requests in this process (spans/s),
  2. raw protobuf over gRPC from several threads (peak load),
  3. the real OTLP gRPC exporter (opentelemetry-exporter-otlp), with latency per export.
Figures are printed with their ratio to the baseline measured in the same run.

    python benchmarks/ingest.py [--requests 300] [--spans-per-request 1000] [--senders 32] [--workers 2]

The collector runs with processors.batch.workers = --workers and a 200 ms batch timeout, as in the
shipped otel-config.yaml.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import grpc
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

METHOD = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
MODELS = ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-pro", "mistral-large-latest"]
PROVIDERS = ["openai", "openai", "anthropic", "gcp.gemini", "mistral_ai"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _kv(key: str, value: object) -> common_pb2.KeyValue:
    if isinstance(value, int):
        return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(int_value=value))
    return common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(string_value=str(value)))


def raw_requests(count: int, spans: int) -> list[bytes]:
    """Distinct export requests shaped like an instrumented agent's LLM spans."""
    now = time.time_ns()
    bodies = []
    for r in range(count):
        request = trace_service_pb2.ExportTraceServiceRequest()
        rs = request.resource_spans.add()
        rs.resource.attributes.extend(
            [_kv("service.name", "agent-fleet"), _kv("deployment.environment.name", "bench")]
        )
        ss = rs.scope_spans.add()
        ss.scope.name = "spendgate.instrumentation"
        for i in range(spans):
            m = (r + i) % len(MODELS)
            span = ss.spans.add()
            span.trace_id = os.urandom(16)
            span.span_id = os.urandom(8)
            span.name = f"chat {MODELS[m]}"
            span.kind = 3
            span.start_time_unix_nano = now - 2_000_000_000
            span.end_time_unix_nano = now - 1_000_000_000
            span.attributes.extend(
                [
                    _kv("gen_ai.operation.name", "chat"),
                    _kv("gen_ai.provider.name", PROVIDERS[m]),
                    _kv("gen_ai.request.model", MODELS[m]),
                    _kv("gen_ai.response.model", MODELS[m]),
                    _kv("gen_ai.usage.input_tokens", 1000 + i),
                    _kv("gen_ai.usage.output_tokens", 200 + i % 50),
                    _kv("gen_ai.usage.cache_read.input_tokens", 500),
                    _kv("spendgate.project", f"project-{i % 7}"),
                    _kv("spendgate.agent", f"agent-{i % 13}"),
                    _kv("spendgate.ticket", f"T-{i % 101}"),
                    _kv("spendgate.phase", "coding"),
                ]
            )
        bodies.append(request.SerializeToString())
    return bodies


def start_collector(
    workdir: Path, workers: int, metrics: str = "normal"
) -> tuple[subprocess.Popen[bytes], int, Path]:
    grpc_port = free_port()
    config = workdir / "otel-config.yaml"
    config.write_text(
        f"""
receivers:
  otlp:
    protocols:
      grpc: {{endpoint: "127.0.0.1:{grpc_port}", max_recv_msg_size_mib: 64}}
      http: {{endpoint: "127.0.0.1:{free_port()}"}}
processors:
  batch: {{workers: {workers}, timeout: 200ms}}
exporters:
  clickhouse: {{endpoint: "chdb://./data"}}
service: {{telemetry: {{logs: {{level: warning}}, metrics: {{level: {metrics}}}}}}}
"""
    )
    log = workdir / "collector.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "spendgate.collector", "collector", "--config", str(config)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while b" ready: " not in log.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("collector did not start:\n" + log.read_text())
        time.sleep(0.05)
    return process, grpc_port, config


def bench_decode(bodies: list[bytes], spans: int) -> float:
    start = time.perf_counter()
    for body in bodies:
        trace_service_pb2.ExportTraceServiceRequest.FromString(body)
    return len(bodies) * spans / (time.perf_counter() - start)


def drive(
    items: list, senders: int, make_send: Callable[[], Callable[[object], object]]
) -> tuple[float, list[float]]:
    """Send every item from ``senders`` threads (each with its own ``make_send()``); returns seconds and latencies."""
    latencies: list[float] = []
    lock = threading.Lock()
    queue = list(items)

    def worker() -> None:
        send = make_send()
        while True:
            with lock:
                if not queue:
                    return
                item = queue.pop()
            begin = time.perf_counter()
            send(item)
            with lock:
                latencies.append(time.perf_counter() - begin)

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, latencies


def bench_raw(port: int, bodies: list[bytes], spans: int, senders: int) -> tuple[float, list[float]]:
    channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.max_send_message_length", 64 << 20)])
    export = channel.unary_unary(METHOD)
    elapsed, latencies = drive(bodies, senders, lambda: lambda body: export(body, timeout=120))
    channel.close()
    return len(bodies) * spans / elapsed, latencies


def sdk_batches(count: int, spans: int) -> list[list]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "agent-fleet"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench")
    for i in range(count * spans):
        m = i % len(MODELS)
        with tracer.start_as_current_span(f"chat {MODELS[m]}") as span:
            span.set_attributes(
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": PROVIDERS[m],
                    "gen_ai.request.model": MODELS[m],
                    "gen_ai.usage.input_tokens": 1000 + i % 500,
                    "gen_ai.usage.output_tokens": 200,
                    "spendgate.project": f"project-{i % 7}",
                    "spendgate.agent": f"agent-{i % 13}",
                }
            )
    finished = list(memory.get_finished_spans())
    return [finished[i : i + spans] for i in range(0, len(finished), spans)]


def bench_exporter(port: int, batches: list[list], senders: int) -> tuple[float, list[float]]:
    def make_send() -> Callable[[object], object]:
        exporter = OTLPSpanExporter(endpoint=f"127.0.0.1:{port}", insecure=True, timeout=120)

        def send(batch: object) -> None:
            assert exporter.export(batch) == SpanExportResult.SUCCESS  # type: ignore[arg-type]

        return send

    elapsed, latencies = drive(batches, senders, make_send)
    return sum(len(b) for b in batches) / elapsed, latencies


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000 if len(values) > 1 else values[0] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--spans-per-request", type=int, default=1000)
    parser.add_argument("--senders", type=int, default=32, help="concurrent requests (a fleet of exporters)")
    parser.add_argument(
        "--workers", type=int, default=2, help="collector processing workers (processors.batch.workers)"
    )
    parser.add_argument(
        "--exporter-batches", type=int, default=40, help="batches of 512 spans for the SDK exporter"
    )
    parser.add_argument(
        "--metrics",
        choices=["none", "basic", "normal"],
        default="normal",
        help="service.telemetry.metrics.level: none measures the cost of the collector's own metrics",
    )
    args = parser.parse_args()
    spans = args.spans_per_request
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        flush=True,
    )
    print(f"building {args.requests} requests x {spans} LLM spans ...", flush=True)
    bodies = raw_requests(args.requests, spans)
    warmup = raw_requests(4, spans)
    batches = sdk_batches(args.exporter_batches, 512)
    with tempfile.TemporaryDirectory() as tmp:
        process, port, config = start_collector(Path(tmp), args.workers, args.metrics)
        print(f"collector: processors.batch.workers={args.workers} metrics={args.metrics}", flush=True)
        try:
            baseline = bench_decode(bodies, spans)
            print(f"baseline  protobuf decode only        {baseline:12,.0f} spans/s   1.000x")
            bench_raw(port, warmup, spans, args.senders)
            rate, lat = bench_raw(port, bodies, spans, args.senders)
            print(
                f"raw gRPC  -> priced -> chDB, acked    {rate:12,.0f} spans/s   {rate / baseline:.3f}x   "
                f"export p50 {pct(lat, 50):.0f} ms  p99 {pct(lat, 99):.0f} ms  ({len(bodies) * spans:,} spans)"
            )
            rate2, lat2 = bench_exporter(port, batches, args.senders)
            print(
                f"OTLP exporter (SDK) -> chDB, acked    {rate2:12,.0f} spans/s   {rate2 / baseline:.3f}x   "
                f"export p50 {pct(lat2, 50):.0f} ms  p99 {pct(lat2, 99):.0f} ms  ({sum(map(len, batches)):,} spans)"
            )
        finally:
            process.terminate()
            process.wait(60)
        stored = subprocess.run(
            [sys.executable, "-m", "spendgate.collector", "sql", "--config", str(config),
             "SELECT count(), uniqExact(span_id) FROM spendgate.llm_spans"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        expected = (args.requests + 4) * spans + sum(map(len, batches))
        print(f"stored [count, distinct]: {stored}   expected {expected}")


if __name__ == "__main__":
    main()
