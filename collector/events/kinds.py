"""The events of budgets and scopes, made from budgets and alerts (cost.recorded: events/costs.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from spendgate.collector.budgets.alerts import Alert
from spendgate.collector.budgets.model import Budget
from spendgate.collector.events.record import Event, money


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
