"""Agent to ClickHouse: one-call set-up, the zero-code path, and a collector outage that loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from spendgate.instrumentation import scope
from spendgate.instrumentation.configure import make_tracer_provider
from spendgate.instrumentation.fake_provider import FakeProvider
from spendgate.instrumentation.openai import OpenAIInstrumentor
from spendgate.instrumentation.recorder import RECORDER
from spendgate.instrumentation.spool import OtlpSender, SpoolingSpanExporter

from ..collector_process import collector_sql, start_collector_process
from ..conftest import RunningCollector, collector_yaml, free_port, wait_until

pytestmark = pytest.mark.slow
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as server:
        yield server


def test_instrumented_agent_spans_land_priced_in_clickhouse(
    running: RunningCollector, fake: FakeProvider, tmp_path: Path
) -> None:
    provider = make_tracer_provider(
        service_name="triage-agent", endpoint=f"http://{running.grpc_endpoint}", spool_dir=tmp_path,
        schedule_delay_millis=50,
    )  # fmt: skip
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        client = openai.OpenAI(base_url=fake.url("openai"), api_key="test", max_retries=0)
        with scope(project="checkout", ticket="PAY-12", agent="triage", phase="coding"):
            for _ in range(3):
                client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    finally:
        instrumentor.uninstrument()
        RECORDER.flush()
        provider.shutdown()
    rows = running.rows(
        "SELECT service, project, ticket, agent, phase, provider, request_model, input_tokens, "
        "cache_read_tokens, output_tokens, pricing_status, total_cost > 0 FROM {db}.llm_spans"
    )
    assert rows == [("triage-agent", "checkout", "PAY-12", "triage", "coding", "openai", "gpt-4o-mini",
                     1200, 200, 80, "priced", True)] * 3  # fmt: skip
    ticket_spend = running.scalar(
        "SELECT sum(calls) FROM {db}.spend_by_scope_hourly WHERE scope_type = 'ticket' AND scope_id = 'PAY-12'"
    )
    assert ticket_spend == 3


def test_zero_code_opentelemetry_instrument(
    running: RunningCollector, fake: FakeProvider, tmp_path: Path
) -> None:
    agent = tmp_path / "agent.py"
    agent.write_text(
        textwrap.dedent(
            f"""
            import openai
            import spendgate

            client = openai.OpenAI(base_url="{fake.url("openai")}", api_key="test", max_retries=0)
            with spendgate.scope(ticket="ZC-1", agent="zero-code"):
                reply = client.chat.completions.create(model="gpt-4o", messages={MESSAGES!r})
            print(reply.choices[0].message.content)
            """
        )
    )
    env = {
        **os.environ,
        "OTEL_SERVICE_NAME": "zero-code-agent",
        "OTEL_RESOURCE_ATTRIBUTES": "spendgate.project=zc",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{running.grpc_endpoint}",
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
        "OTEL_BSP_SCHEDULE_DELAY": "50",
        # Other openai instrumentations that may be installed would meter the same call again.
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "openai,openai_v2",
    }
    command = [str(Path(sys.executable).parent / "opentelemetry-instrument"), sys.executable, str(agent)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Hello from the fake provider."
    wait_until(lambda: running.scalar("SELECT count() FROM {db}.llm_spans") >= 1, timeout=30, interval=0.05)
    rows = running.rows(
        "SELECT service, project, ticket, agent, input_tokens, output_tokens FROM {db}.llm_spans"
    )
    assert rows == [("zero-code-agent", "zc", "ZC-1", "zero-code", 1200, 80)]


def test_collector_outage_loses_nothing_and_counts_nothing_twice(fake: FakeProvider, tmp_path: Path) -> None:
    # 20 s covers the spool and several backoff rounds (max 2 s); SPENDGATE_OUTAGE_SECONDS=60 runs longer.
    outage_seconds = float(os.environ.get("SPENDGATE_OUTAGE_SECONDS", "20"))
    grpc_port = free_port()
    config = tmp_path / "otel-config.yaml"
    config.write_text(collector_yaml("chdb://./data", "spendgate", grpc_port, free_port()))
    log = tmp_path / "collector.log"
    collector = start_collector_process(config, log)

    exporter = SpoolingSpanExporter(
        OtlpSender(f"http://127.0.0.1:{grpc_port}", "grpc", timeout_s=2), tmp_path / "spool", max_backoff_s=2
    )
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=100))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    client = openai.OpenAI(base_url=fake.url("openai"), api_key="test", max_retries=0)
    calls = 0

    def keep_calling(seconds: float) -> None:
        nonlocal calls
        until = time.monotonic() + seconds
        with scope(project="outage"):
            while time.monotonic() < until:
                client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
                calls += 1
                time.sleep(0.02)

    try:
        keep_calling(2)
        collector.send_signal(signal.SIGTERM)
        collector.wait(60)
        keep_calling(outage_seconds)  # the agent goes on while nothing listens
        RECORDER.flush()
        provider.force_flush()
        assert exporter.pending > 0, "nothing was spooled during the outage"
        spooled_during_outage = exporter.pending
        collector = start_collector_process(config, log)
        keep_calling(2)
        RECORDER.flush()
        provider.force_flush()
        wait_until(lambda: exporter.pending == 0, timeout=60, what="the spool to drain", interval=0.05)
    finally:
        instrumentor.uninstrument()
        provider.shutdown()
        collector.send_signal(signal.SIGTERM)
        collector.wait(60)
    stored = collector_sql(
        config,
        "SELECT count(), uniqExact(trace_id, span_id) FROM spendgate.llm_spans WHERE project = 'outage'",
    )
    assert stored == [[calls, calls]], f"{calls} calls, {spooled_during_outage} requests spooled"
