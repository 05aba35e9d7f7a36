"""Run the collector as a separate process, the way it is deployed, and query its storage after it stops."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path


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
