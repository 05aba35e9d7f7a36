"""The per-agent monthly default (seed 004): every agent has a $50 month out of the box."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from spendgate.collector.budget_config import AGENT_MONTHLY_ENV
from spendgate.collector.config import Config, ConfigError, parse_config

from .conftest import chat_attributes, collector_running, make_spans, wait_until


def _agent_default(config: Config) -> Decimal:
    return next(b.limit for b in config.extensions.budgets.defaults if b.id == "agent-default-monthly")


def test_the_default_is_50_a_month_and_the_environment_changes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(AGENT_MONTHLY_ENV, raising=False)
    default = next(b for b in Config().extensions.budgets.defaults if b.id == "agent-default-monthly")
    assert (default.scope_type, default.scope_id, default.period, default.limit) == (
        "agent",
        "*",
        "month",
        50,
    )
    assert default.hard and default.grace_percent == 10
    monkeypatch.setenv(AGENT_MONTHLY_ENV, "75.5")
    assert _agent_default(Config()) == Decimal("75.5")
    monkeypatch.setenv(AGENT_MONTHLY_ENV, "fifty")
    with pytest.raises(ConfigError, match="limit"):
        parse_config("{}")


def test_every_agent_shows_in_the_status_view_with_its_monthly_default(chdb_dsn: str) -> None:
    with collector_running(
        chdb_dsn, "extensions:\n  budgets: {evaluate_every: 0.2, status_every: 0.5}\n"
    ) as running:
        spans = make_spans([{"attributes": chat_attributes(**{"spendgate.agent": "scout"})}])
        exporter = OTLPSpanExporter(endpoint=running.http_url + "/v1/traces", timeout=10)
        assert exporter.export(spans).name == "SUCCESS"

        def scout() -> dict[str, str] | None:
            answer = httpx.get(
                running.http_url + "/api/v1/costs/budgets/status", params={"scope_type": "agent"}
            )
            scopes = answer.json()["scopes"]
            return next(
                (s for s in scopes if s["budget_id"] == "agent-default-monthly" and s["scope_id"] == "scout"),
                None,
            )

        wait_until(lambda: scout() is not None, timeout=30, what="scout's monthly status", interval=0.1)
        status = scout()
        assert status is not None and status["limit_amount"] == "50" and status["period"] == "month"
        assert Decimal(status["spend"]) > 0
