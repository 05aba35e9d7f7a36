"""The events of each kind, made from what the collector already has: stored rows, budgets, alerts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
from spendgate.collector.budgets.alerts import Alert
from spendgate.collector.budgets.model import Budget
from spendgate.collector.events.record import Event, money

# The llm_spans columns a cost.recorded event reads.
_COST_COLUMNS = (
    "call_key",
    "end_time",
    "task",
    "agent",
    "provider",
    "response_model",
    "request_model",
    "total_cost",
    "input_tokens",
    "output_tokens",
)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def cost_recorded(block: pa.Table) -> list[Event]:
    """One event per stored call; its id is the call's identity, so a call has one id ever."""
    events = []
    for row in block.select(list(_COST_COLUMNS)).to_pylist():
        events.append(
            Event(
                id="call-" + bytes(row["call_key"]).hex(),
                type="cost.recorded",
                time=_utc(row["end_time"]),
                data={
                    "task_id": row["task"],
                    "agent_id": row["agent"],
                    "provider": row["provider"],
                    "model": row["response_model"] or row["request_model"],
                    "total_cost": money(row["total_cost"]),
                    "total_tokens": row["input_tokens"] + row["output_tokens"],
                },
            )
        )
    return events


def budget_changed(kind: str, budget: Budget) -> Event:
    """budget.created, budget.updated or budget.deleted (``kind``)."""
    return Event(
        id=uuid.uuid4().hex,
        type=f"budget.{kind}",
        time=datetime.now(UTC),
        data={
            "budget_id": budget.id,
            "scope_type": budget.scope_type,
            "scope_id": budget.scope_id,
            "metric": budget.metric,
            "limit_amount": money(budget.limit),
            "period": budget.period,
            "hard": budget.hard,
            "active": budget.active,
        },
    )


def _alert_event(alert: Alert) -> Event:
    data: dict[str, str | int | bool | None] = {
        "budget_id": alert.budget_id,
        "scope_type": alert.scope_type,
        "scope_id": alert.scope_id,
        "limit": money(alert.limit),
        "spent": money(alert.spend),
        "threshold_percent": alert.threshold,
    }
    if alert.threshold >= 100:
        kind, data["overage"] = "cost.budget.exceeded", money(max(alert.spend - alert.limit, Decimal(0)))
    else:
        kind, data["remaining"] = "cost.budget.warning", money(max(alert.limit - alert.spend, Decimal(0)))
    return Event(id="alert-" + alert.id, type=kind, time=alert.at, data=data)


def threshold_crossed(alerts: Sequence[Alert]) -> list[Event]:
    """cost.budget.warning for a threshold below 100 %, cost.budget.exceeded at 100 % and above
    (anomaly alerts are not budget events)."""
    return [_alert_event(alert) for alert in alerts if alert.kind == "threshold"]


def scope_paused(
    paused: bool, scope_type: str, scope_id: str, by: str = "", reason: str = "", event_id: str = ""
) -> Event:
    """scope.paused or scope.unpaused: a scope blocked (or freed) by hand, whatever its spend."""
    return Event(
        id=event_id or uuid.uuid4().hex,
        type="scope.paused" if paused else "scope.unpaused",
        time=datetime.now(UTC),
        data={"scope_type": scope_type, "scope_id": scope_id, "by": by, "reason": reason},
    )
