"""What the console tests share: a collector with API keys, seeded through OTLP, and a headless Chromium.

The browser is Debian's ``chromium`` driven by Playwright (no ``playwright install``); tests that need
it skip, saying why, only when no chromium binary exists (CI installs it: ``.ci/run``).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from spendgate.collector.api.auth import digest

from .conftest import RunningCollector, clear_of_midnight, collector_running
from .test_budgets import _span_at

KEYS = {"ingest": "sg_console_agent", "read": "sg_console_reader", "admin": "sg_console_admin"}
CONFIG = "extensions:\n  budgets: {defaults: [], evaluate_every: 1s}\n  auth:\n    api_keys:\n" + "".join(
    f"      - {{name: {role}, sha256: {digest(key)}, roles: [{role}]}}\n" for role, key in KEYS.items()
)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def bearer(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[role]}"}


def export(running: RunningCollector, spans: list[Any]) -> None:
    exporter = GrpcExporter(
        endpoint=running.grpc_endpoint, insecure=True, headers={"authorization": f"Bearer {KEYS['ingest']}"}
    )
    assert exporter.export(spans).name == "SUCCESS"


def seed(running: RunningCollector) -> datetime:
    """25 gpt-4o calls of coder (one run each: small runs, so a cheaper-model insight), 3 gpt-4o-mini
    calls of tester, one anthropic call of writer on another project, all within the last minute."""
    now = clear_of_midnight()
    spans = [
        _span_at(
            now - timedelta(seconds=i),
            **{
                "spendgate.project": "shop",
                "spendgate.agent": "coder",
                "spendgate.task": f"T{i % 2}",
                "spendgate.ticket": "SHOP-1",
                "spendgate.run": f"run-{i}",
            },
        )
        for i in range(25)
    ]
    spans += [
        _span_at(
            now - timedelta(seconds=30 + i),
            model="gpt-4o-mini",
            **{"spendgate.project": "shop", "spendgate.agent": "tester", "spendgate.task": "T9"},
        )
        for i in range(3)
    ]
    spans.append(
        _span_at(
            now - timedelta(seconds=40),
            model="claude-sonnet-4-5",
            provider="anthropic",
            **{"spendgate.project": "blog", "spendgate.agent": "writer"},
        )
    )
    export(running, spans)
    return now


def get(running: RunningCollector, path: str, **params: Any) -> Any:
    response = httpx.get(running.http_url + path, params=params, headers=bearer("admin"), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def keyed(chdb_dsn: str) -> Iterator[RunningCollector]:
    with collector_running(chdb_dsn, CONFIG) as running:
        yield running
