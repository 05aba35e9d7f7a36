"""SIGKILL the collector in the middle of a load from the real OTLP exporter:
every acknowledged span is stored exactly once and the rollups match the raw rows."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.sdk.trace.export import SpanExportResult

from .collector_process import collector_sql as _sql
from .collector_process import start_collector_process as _start
from .conftest import chat_attributes, collector_yaml, free_port, make_spans

pytestmark = pytest.mark.slow


def test_sigkill_mid_load_loses_nothing_acknowledged_and_counts_nothing_twice(tmp_path: Path) -> None:
    config = tmp_path / "otel-config.yaml"
    grpc_port = free_port()
    config.write_text(collector_yaml("chdb://./data", "spendgate", grpc_port, free_port()))
    log = tmp_path / "collector.log"
    process = _start(config, log)

    batches = [make_spans([{"attributes": chat_attributes()} for _ in range(50)]) for _ in range(60)]
    acknowledged: list[str] = []
    failed: list[int] = []
    lock = threading.Lock()

    def send(worker: int) -> None:
        exporter = GrpcExporter(endpoint=f"127.0.0.1:{grpc_port}", insecure=True, timeout=90)
        for index in range(worker, len(batches), 3):
            if exporter.export(batches[index]) == SpanExportResult.SUCCESS:
                with lock:
                    acknowledged.extend(format(s.context.span_id, "016X") for s in batches[index])
            else:
                failed.append(index)
            time.sleep(0.02)

    senders = [threading.Thread(target=send, args=(w,)) for w in range(3)]
    for sender in senders:
        sender.start()
    while len(acknowledged) < 600:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    acked_before_kill = len(acknowledged)
    time.sleep(1.0)  # exporters see UNAVAILABLE and back off meanwhile
    process = _start(config, log)
    for sender in senders:
        sender.join(180)
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0

    assert not failed, f"exports gave up: {failed}"
    assert acked_before_kill < len(batches) * 50, "the kill came after the load ended"
    stored = {
        row[0]: row[1]
        for row in _sql(config, "SELECT hex(span_id), count() FROM spendgate.llm_spans GROUP BY 1")
    }
    assert len(acknowledged) == len(batches) * 50
    missing = [span for span in acknowledged if span not in stored]
    assert not missing, f"{len(missing)} acknowledged spans were lost"
    assert all(int(count) == 1 for count in stored.values())
    raw = _sql(config, "SELECT toString(sum(total_cost)), count() FROM spendgate.llm_spans")[0]
    for table, extra in (
        ("spend_by_scope_hourly", "WHERE scope_type = 'global'"),
        ("spend_daily", ""),
        ("spend_monthly", ""),
    ):
        rolled = _sql(config, f"SELECT toString(sum(total_cost)), sum(calls) FROM spendgate.{table} {extra}")[
            0
        ]
        assert rolled == raw, table
    assert "Traceback" not in log.read_text()
    assert os.path.isdir(tmp_path / "data")


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(child) for child in (task / "children").read_text().split())
    return found


def test_worker_processes_leave_with_a_killed_collector(tmp_path: Path) -> None:
    config = tmp_path / "otel-config.yaml"
    config.write_text(collector_yaml("chdb://./data", "spendgate", free_port(), free_port(), workers=1))
    process = _start(config, tmp_path / "collector.log")
    children = _children(process.pid)
    assert children, "the collector started no worker process"
    process.send_signal(signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{child}").exists() for child in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [child for child in children if Path(f"/proc/{child}").exists()]
