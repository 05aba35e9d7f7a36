"""Budget periods at their edges (time zones, DST) and evaluation of spend in them on chDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import ValidationError
from spendgate.collector.budgets.evaluator import evaluate
from spendgate.collector.budgets.model import Budget, period_window, state_of

from .conftest import RunningCollector, chat_attributes


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_calendar_month_in_a_time_zone() -> None:
    budget = Budget(scope_type="global", limit=Decimal(500), period="month", timezone="America/New_York")
    # 2026-12-01 04:30 UTC is still November 30 in New York (UTC-5).
    assert period_window(budget, _utc(2026, 12, 1, 4, 30)) == (_utc(2026, 11, 1, 4), _utc(2026, 12, 1, 5))
    assert period_window(budget, _utc(2026, 12, 1, 5, 0)) == (_utc(2026, 12, 1, 5), _utc(2027, 1, 1, 5))


def test_days_across_daylight_saving_changes() -> None:
    budget = Budget(
        scope_type="project", scope_id="p", limit=Decimal(50), period="day", timezone="Europe/Berlin"
    )
    start, end = period_window(budget, _utc(2026, 3, 29, 12))  # clocks go forward: a 23-hour day
    assert (start, end) == (_utc(2026, 3, 28, 23), _utc(2026, 3, 29, 22))
    start, end = period_window(budget, _utc(2026, 10, 25, 12))  # clocks go back: a 25-hour day
    assert end - start == timedelta(hours=25)


def test_week_starts_on_monday_and_half_hour_zones_work() -> None:
    budget = Budget(
        scope_type="team", scope_id="ml", limit=Decimal(10), period="week", timezone="Asia/Kolkata"
    )
    start, end = period_window(budget, _utc(2026, 11, 25, 12))  # a Wednesday
    assert start == _utc(2026, 11, 22, 18, 30)  # Monday 00:00 at UTC+5:30
    assert end - start == timedelta(days=7)


def test_rolling_and_fixed_windows() -> None:
    now = _utc(2026, 11, 25, 10, 17)
    rolling = Budget(scope_type="agent", scope_id="a", limit=Decimal(1), period="rolling", rolling_hours=24)
    start, end = period_window(rolling, now)
    assert start == now - timedelta(hours=24) and end > now
    fixed = Budget(scope_type="ticket", scope_id="T-1", limit=Decimal(3), period="fixed",
                   starts_at=_utc(2026, 11, 1), ends_at=_utc(2026, 11, 15))  # fmt: skip
    assert period_window(fixed, now) == (_utc(2026, 11, 1), _utc(2026, 11, 15))


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"scope_type": "project", "limit": 5}, "needs a scope_id"),
        ({"scope_type": "global", "scope_id": "x", "limit": 5}, "global budget has no scope_id"),
        ({"scope_type": "global", "limit": 0}, "greater than 0"),
        ({"scope_type": "global", "limit": 5, "timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"scope_type": "global", "limit": 5, "period": "rolling"}, "rolling_hours"),
        ({"scope_type": "galaxy", "limit": 5}, "scope_type"),
    ],
)
def test_invalid_budgets_name_the_problem(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Budget(**fields)  # type: ignore[arg-type]


def test_states_follow_thresholds_grace_and_softness() -> None:
    hard = Budget(scope_type="global", limit=Decimal(100), grace_percent=Decimal(10))
    assert [state_of(hard, Decimal(x))[0] for x in (10, 50, 80, 95, 100, 109, 110)] == [
        "ok", "ok", "warn", "critical", "critical", "critical", "block",
    ]  # fmt: skip
    soft = Budget(scope_type="global", limit=Decimal(100), hard=False)
    assert state_of(soft, Decimal(500))[0] == "critical"


def _span_at(moment: datetime, **attributes: object) -> object:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "budget-test"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    start = int(moment.timestamp() * 1e9)
    span = provider.get_tracer("t").start_span("chat gpt-4o", start_time=start)
    span.set_attributes(chat_attributes(**attributes))  # type: ignore[arg-type]
    span.end(end_time=start + 1_000_000)
    return memory.get_finished_spans()[0]


def test_evaluation_counts_exactly_the_spans_inside_each_window(running: RunningCollector) -> None:
    # Kolkata days start at 18:30 UTC: spans at 18:29 and 18:31 fall on different days, inside one
    # hourly rollup row, so the edge must be read from the raw spans.
    spans = [
        _span_at(_utc(2026, 11, 24, 18, 29), **{"spendgate.project": "edge"}),
        _span_at(_utc(2026, 11, 24, 18, 31), **{"spendgate.project": "edge"}),
        _span_at(_utc(2026, 11, 25, 9, 0), **{"spendgate.project": "edge"}),
        _span_at(_utc(2026, 11, 25, 9, 0), **{"spendgate.project": "other"}),
    ]
    assert GrpcExporter(endpoint=running.grpc_endpoint, insecure=True).export(spans).name == "SUCCESS"  # type: ignore[arg-type]
    one_call = running.scalar("SELECT min(total_cost) FROM {db}.llm_spans")
    now = _utc(2026, 11, 25, 10)
    day = Budget(id="day", scope_type="project", scope_id="edge", limit=Decimal("0.005"), period="day",
                 timezone="Asia/Kolkata")  # fmt: skip
    month = Budget(id="month", scope_type="global", limit=Decimal(500), period="month")
    tokens = Budget(id="tokens", scope_type="project", scope_id="edge", metric="tokens", limit=Decimal(5000),
                    period="rolling", rolling_hours=2)  # fmt: skip
    paused = Budget(id="paused", scope_type="global", limit=Decimal(1), active=False)
    assert running.collector.storage is not None
    results = {e.budget.id: e for e in evaluate(running.collector.storage, [day, month, tokens, paused], now)}
    assert set(results) == {"day", "month", "tokens"}
    assert results["day"].calls == 2 and results["day"].spend == 2 * one_call  # 18:31 and 09:00
    assert results["month"].calls == 4 and results["month"].spend == 4 * one_call
    assert results["tokens"].calls == 1 and results["tokens"].spend == Decimal(1200)  # 09:00 only
    assert results["day"].state == "block"  # two gpt-4o calls (0.0045 USD each) are 180 % of the limit
    assert results["day"].utilization == 2 * one_call / Decimal("0.005") * 100
    assert results["month"].state == "ok"


def test_default_budgets_apply_to_every_scope_id_without_its_own(running: RunningCollector) -> None:
    now = datetime.now(UTC)
    spans = [_span_at(now, **{"spendgate.project": name}) for name in ("a", "a", "b", "c")]
    spans.append(_span_at(now))  # no project: not under the project default
    assert GrpcExporter(endpoint=running.grpc_endpoint, insecure=True).export(spans).name == "SUCCESS"  # type: ignore[arg-type]
    one_call = running.scalar("SELECT min(total_cost) FROM {db}.llm_spans")
    default = Budget(
        id="project-default", scope_type="project", scope_id="*", limit=one_call * 2, grace_percent=0
    )
    own = Budget(id="c-own", scope_type="project", scope_id="c", limit=one_call * 10)
    assert running.collector.storage is not None
    results = evaluate(running.collector.storage, [default, own], now)
    got = sorted((e.budget.id, e.scope_id, e.spend, e.state) for e in results)
    assert got == [
        ("c-own", "c", one_call, "ok"),
        ("project-default", "a", 2 * one_call, "block"),
        ("project-default", "b", one_call, "ok"),  # c has its own monthly budget: the default skips it
    ]


def test_evaluator_command_runs_alone_and_stops_cleanly(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    config = tmp_path / "otel-config.yaml"
    config.write_text(f"exporters:\n  clickhouse:\n    endpoint: chdb://{tmp_path / 'data'}\n"
                      "extensions:\n  budgets:\n    evaluate_every: 200ms\n")  # fmt: skip
    process = subprocess.Popen([sys.executable, "-m", "spendgate", "evaluator", "--config", str(config)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("spendgate evaluator ready: every 0.2s on chdb://")
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        process.kill()
