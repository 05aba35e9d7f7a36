"""Run the collector as a separate process, the way it is deployed, and query its storage after it stops;
run an instrumented agent as a process of its own against a fake provider."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def start_collector_process(config: Path, log: Path, *options: str) -> subprocess.Popen[bytes]:
    ready_before = log.read_bytes().count(b" ready: ") if log.exists() else 0
    process = subprocess.Popen(
        [sys.executable, "-m", "spendgate.collector", "collector", "--config", str(config), *options],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while log.read_bytes().count(b" ready: ") <= ready_before:
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("collector did not start:\n" + log.read_text())
        time.sleep(0.05)
    return process


def collector_sql(config: Path, query: str) -> list[list[object]]:
    out = subprocess.run(
        [sys.executable, "-m", "spendgate.collector", "sql", "--config", str(config), query],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return [json.loads(line) for line in out.splitlines()]


@pytest.fixture(scope="module", name="fake")
def fake_provider() -> Iterator[Any]:
    """A fake LLM provider for the module's agents (import this fixture into the test module)."""
    from spendgate.instrumentation.fake_provider import FakeProvider

    with FakeProvider() as server:
        yield server


def agent_command(script: str, tmp_path: Path, provider_url: str, grpc_endpoint: str) -> list[str]:
    """The command that runs ``script`` (an agent's source) as a process: its argv is the provider's
    base URL, the collector's OTLP/gRPC endpoint and a spool directory under ``tmp_path``."""
    path = tmp_path / "agent.py"
    path.write_text(script)
    return [sys.executable, str(path), provider_url, f"http://{grpc_endpoint}", str(tmp_path / "spool")]
