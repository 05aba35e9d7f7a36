"""Local models' fixed monthly cost: one row a day through the writer, seen by reports and budgets."""

from __future__ import annotations

import calendar
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from spendgate.collector.app import Collector
from spendgate.collector.config import Config, PricingProcessor, parse_config
from spendgate.collector.ingest.fixed_costs import FixedCost, FixedCosts, daily_amount, split

from .conftest import RunningCollector, chat_attributes, collector_yaml, free_port, make_spans, wait_until

TODAY = datetime.now(UTC).date()
DAYS = calendar.monthrange(TODAY.year, TODAY.month)[1]
BUDGET = """
extensions:
  budgets:
    evaluate_every: 0.2
    status_every: 0.5
    defaults: [{id: ollama-month, scope_type: provider, scope_id: ollama, limit: 40, period: month}]
"""
ROWS = "SELECT toDate(start_time), project, total_cost, pricing_status FROM {db}.llm_spans WHERE provider = {p:String}"


def _config(dsn: str, database: str, pricing: PricingProcessor) -> Config:
    config = parse_config(collector_yaml(dsn, database, free_port(), free_port(), BUDGET))
    processors = config.processors.model_copy(update={"pricing": pricing})
    return config.model_copy(update={"processors": processors})


class Restartable:
    """A collector on one database that can be stopped and started again."""

    def __init__(self, dsn: str) -> None:
        self.dsn, self.database = dsn, "t_" + uuid.uuid4().hex[:10]
        # A month of as many dollars as it has days: $1.00 a day.
        self.pricing = PricingProcessor(local_monthly_cost={"ollama": Decimal(DAYS)})
        self.running: RunningCollector | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> RunningCollector:
        collector = Collector(_config(self.dsn, self.database, self.pricing))
        self.thread = collector.serve_in_thread()
        self.running = RunningCollector(collector, self.dsn, self.database)
        return self.running

    def stop(self) -> None:
        assert self.running is not None and self.thread is not None
        self.running.collector.request_stop()
        self.thread.join(30)


@pytest.fixture(scope="module")
def local(chdb_dsn: str) -> Iterator[Restartable]:
    restartable = Restartable(chdb_dsn)
    restartable.start()
    yield restartable
    restartable.stop()
    assert restartable.running is not None
    restartable.running.client.command(f"DROP DATABASE IF EXISTS {restartable.database} SYNC")


def test_a_day_of_the_monthly_cost_is_spend_in_reports_and_budgets_and_a_restart_keeps_it_once(
    local: Restartable,
) -> None:
    running = local.running
    assert running is not None
    assert running.rows(ROWS, p="ollama") == [(TODAY, "", Decimal(1), "fixed_monthly")]
    summary = httpx.get(running.http_url + "/api/v1/costs/summary").json()
    assert summary["totals"]["total_cost"] == "1" and summary["totals"]["calls"] == 0
    assert summary["by_provider"] == [
        {"provider": "ollama", "calls": 0, "total_cost": "1", "input_tokens": 0, "output_tokens": 0}
    ]
    by_provider = httpx.get(running.http_url + "/api/v1/usage/by-provider").json()
    assert "1" in str(by_provider) and "ollama" in str(by_provider)

    def budget_spend() -> str | None:
        status = httpx.get(running.http_url + "/api/v1/costs/budgets/status").json()["scopes"]
        return next((s["spend"] for s in status if s["budget_id"] == "ollama-month"), None)

    wait_until(lambda: budget_spend() == "1", timeout=30, what="the budget's spend of $1", interval=0.1)

    local.stop()
    running = local.start()
    assert running.rows(ROWS, p="ollama") == [(TODAY, "", Decimal(1), "fixed_monthly")]
    assert running.scalar("SELECT sum(calls) FROM {db}.spend_daily WHERE provider = 'ollama'") == 0
    assert running.scalar("SELECT sum(total_cost) FROM {db}.spend_daily WHERE provider = 'ollama'") == 1


def test_a_month_of_days_sums_to_the_monthly_amount_exactly(local: Restartable) -> None:
    running = local.running
    assert running is not None and running.collector.writer is not None
    fixed = FixedCosts(PricingProcessor(), running.collector.storage, running.collector.writer)
    lab = FixedCost("lab", "gpu-box", Decimal("100"))  # 100 / 31 (or 30) does not divide evenly
    first = TODAY.replace(day=1)
    for n in range(DAYS):
        assert fixed.accrue_day(lab, first + timedelta(days=n)) == 1
    assert fixed.accrue_day(lab, first) == 1  # written again: the writer drops the known call
    assert running.scalar("SELECT count() FROM {db}.llm_spans WHERE provider = 'lab'") == DAYS
    assert running.scalar("SELECT sum(total_cost) FROM {db}.llm_spans WHERE provider = 'lab'") == 100
    for month in range(1, 13):
        amounts = [
            daily_amount(Decimal("100"), date(2028, month, d)) for d in range(1, 32) if _valid(month, d)
        ]
        assert sum(amounts) == 100 and len(set(amounts[:-1])) == 1


def _valid(month: int, day: int) -> bool:
    return day <= calendar.monthrange(2028, month)[1]


def test_split_by_project_follows_the_tokens_of_the_day(local: Restartable) -> None:
    running = local.running
    assert running is not None and running.collector.writer is not None
    spans = [
        {"attributes": chat_attributes("llama3", "edge", **{"spendgate.project": project})}
        for project in ("alpha", "alpha", "alpha", "beta")
    ]
    exporter = OTLPSpanExporter(endpoint=running.http_url + "/v1/traces", timeout=10)
    assert exporter.export(make_spans(spans)).name == "SUCCESS"
    pricing = PricingProcessor(
        local_monthly_cost={"edge": Decimal(DAYS * 4)}, local_monthly_cost_split="project"
    )
    fixed = FixedCosts(pricing, running.collector.storage, running.collector.writer)
    assert fixed.due_days(fixed.costs[0], None) == [TODAY - timedelta(days=1)]  # split: after the day
    assert fixed.accrue_day(fixed.costs[0], TODAY) == 2
    rows = running.rows(ROWS + " AND operation = 'infrastructure' ORDER BY project", p="edge")
    assert [(r[1], r[2]) for r in rows] == [("alpha", Decimal(3)), ("beta", Decimal(1))]
    assert split(Decimal(1), {}) == {"": Decimal(1)}
    thirds = split(Decimal(1), {"a": 1, "b": 1, "c": 1})
    assert sum(thirds.values()) == 1 and thirds["a"] == thirds["b"] != thirds["c"]
