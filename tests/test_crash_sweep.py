"""Kill sweep: SIGKILL the collector at many points around an insert (real OTLP exporter), restart it,
and check that every rollup equals the raw rows key by key and that the budgets see all the spend."""

from __future__ import annotations

import random
import re
import signal
import subprocess
import threading
import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

from .collector_process import collector_sql, start_collector_process
from .conftest import collector_yaml, free_port
from .rollup_check import rollup_differences
from .test_reconcile import spans_at

pytestmark = pytest.mark.slow

KILLS = 12
SENDERS = 3
SPANS_PER_EXPORT = 400


class _Load:
    """One round of exports from SENDERS threads; each export retries until the collector takes it."""

    def __init__(self, grpc_port: int, round_no: int) -> None:
        # Half the calls started two hours ago: budgets read those from the hourly rollup.
        self.batches = [
            spans_at(SPANS_PER_EXPORT, 2 * 3600 if (round_no + sender) % 2 else 0)
            for sender in range(SENDERS)
        ]
        self.results: list[SpanExportResult] = []
        self._threads = [
            threading.Thread(target=self._send, args=(grpc_port, batch)) for batch in self.batches
        ]
        for thread in self._threads:
            thread.start()

    def _send(self, port: int, batch: list[ReadableSpan]) -> None:
        exporter = GrpcExporter(endpoint=f"127.0.0.1:{port}", insecure=True, timeout=60)
        self.results.append(exporter.export(batch))

    def join(self) -> None:
        for thread in self._threads:
            thread.join(90)
        assert self.results == [SpanExportResult.SUCCESS] * SENDERS


def _kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait()


def test_kill_sweep_around_inserts_leaves_rollups_and_budgets_exact(tmp_path: Path) -> None:
    config = tmp_path / "otel-config.yaml"
    grpc_port, http_port = free_port(), free_port()
    config.write_text(collector_yaml("chdb://./data", "spendgate", grpc_port, http_port))
    log = tmp_path / "collector.log"
    process = start_collector_process(config, log)
    sent: list[ReadableSpan] = []

    # Calibration: how long a round takes to be acknowledged when nothing goes wrong.
    began = time.monotonic()
    load = _Load(grpc_port, 0)
    load.join()
    round_time = time.monotonic() - began
    sent += [span for batch in load.batches for span in batch]

    rng = random.Random(11)
    for kill in range(KILLS):
        # Stepped across the round (decode, pricing, insert, views, acknowledgement), jittered.
        delay = round_time * 1.2 * (kill + rng.random()) / KILLS
        load = _Load(grpc_port, kill + 1)
        time.sleep(delay)
        _kill(process)
        process = start_collector_process(config, log)
        load.join()
        sent += [span for batch in load.batches for span in batch]

    # Up again with nothing in flight: the first evaluation is the budgets' view after the crashes.
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0
    process = start_collector_process(config, log)
    status = httpx.get(f"http://127.0.0.1:{http_port}/api/v1/costs/budgets/status").json()
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0

    def query(sql: str) -> list[list[object]]:
        return collector_sql(config, sql.replace("{db}", "spendgate"))

    stored = {
        str(span): count
        for span, count in query("SELECT hex(span_id), count() FROM {db}.llm_spans GROUP BY 1")
    }
    acknowledged = [format(span.context.span_id, "016X") for span in sent]
    assert len(stored) == len(acknowledged) == (KILLS + 1) * SENDERS * SPANS_PER_EXPORT
    assert set(stored) == set(acknowledged) and set(stored.values()) == {1}
    assert rollup_differences(query) == {}
    month = query(
        "SELECT toString(sum(total_cost)) FROM {db}.llm_spans WHERE start_time >= toStartOfMonth(now())"
    )[0][0]
    spend = next(s["spend"] for s in status["scopes"] if s["budget_id"] == "global-monthly")
    assert Decimal(spend) == Decimal(str(month)) > 0
    text = log.read_text()
    assert "Traceback" not in text
    replayed = sum(int(n) for n in re.findall(r"replayed (\d+) inserts", text))
    print(f"{KILLS} kills over {round_time:.2f} s rounds; reconciliation replayed {replayed} inserts")
