"""Seed 004's per-agent budget status (``GET /api/cost/agents``), from the native sources.

An agent with a cost budget (its own, or a default ``agent/*`` budget's share) shows that budget
as the newest evaluation saw it, the same figures as ``GET /api/v1/costs/budgets/status?scope_type=
agent``: ``current_cost`` is the spend in the budget's window, ``operation_count`` its calls. With
several cost budgets the monthly one is shown, else the fullest. Only budgeted agents are listed
by default: the seed's React monitor calls ``budget_limit.toFixed(2)``, which null lacks (the seed
gives every agent a default budget; here that is an ``agent/*`` budget). With ``include_unbudgeted``
an agent with spend this month and no budget is listed too, with its month's spend
(``/api/v1/usage/by-agent``) and null budget fields.
``is_active`` is false while the agent (or everything) is paused or its budget blocks it.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from spendgate.collector.api.costs import jsonable
from spendgate.collector.api.seed_envelope import number
from spendgate.collector.budgets.runtime import BudgetRuntime
from spendgate.collector.budgets.status import ScopeStatus, read_status

from spendgate.dimensions import GLOBAL


def _budgets(runtime: BudgetRuntime) -> dict[str, ScopeStatus]:
    """Each agent's shown cost budget: the monthly one, else the fullest (status rows come fullest first)."""
    shown: dict[str, ScopeStatus] = {}
    for status in read_status(runtime.storage, "agent"):
        if status.metric != "cost":
            continue
        current = shown.get(status.scope_id)
        if current is None or (status.period == "month" and current.period != "month"):
            shown[status.scope_id] = status
    return shown


def _paused(runtime: BudgetRuntime) -> tuple[bool, set[str]]:
    """Whether everything is paused, and the agents paused by hand."""
    pauses = [p for p in runtime.pauses.paused() if p.paused]
    agents = {p.scope_id for p in pauses if p.scope_type == "agent"}
    return any(p.scope_type == GLOBAL for p in pauses), agents


def _budgeted(status: ScopeStatus) -> dict[str, Any]:
    row = jsonable(asdict(status))
    return {
        "budget_id": status.budget_id,
        "budget_period": status.period,
        "budget_limit": number(row["limit"]),
        "current_cost": number(row["spend"]),
        "remaining": number(row["remaining"]),
        "utilization_pct": number(row["utilization"]),
        "operation_count": status.calls,
        "state": status.state,
        "period_start": row["period_start"],
        "period_end": row["period_end"],
    }


def _unbudgeted(usage: dict[str, Any]) -> dict[str, Any]:
    return {
        "budget_id": None,
        "budget_period": None,
        "budget_limit": None,
        "current_cost": number(usage["total_cost"]),
        "remaining": None,
        "utilization_pct": None,
        "operation_count": usage["calls"],
        "state": None,
        "period_start": None,
        "period_end": None,
    }


def agent_rows(
    usage: list[dict[str, Any]], runtime: BudgetRuntime | None, unbudgeted: bool
) -> list[dict[str, Any]]:
    """The seed's agent rows, largest spend first: the budgeted agents, and with ``unbudgeted`` those
    with spend this month (``usage``: the month's usage by agent, native JSON) and no budget."""
    spent = {u["agent"]: u for u in usage if u["agent"]}  # '' is spend without an agent
    budgets = _budgets(runtime) if runtime is not None else {}
    everything_paused, paused = _paused(runtime) if runtime is not None else (False, set())
    rows = []
    for agent in sorted(spent.keys() | budgets.keys() if unbudgeted else budgets.keys()):
        status = budgets.get(agent)
        figures = _budgeted(status) if status is not None else _unbudgeted(spent[agent])
        is_paused = everything_paused or agent in paused
        rows.append(
            {
                "agent_id": agent,
                "agent_name": agent,
                **figures,
                "is_paused": is_paused,
                "is_active": not is_paused and figures["state"] != "block",
            }
        )
    return sorted(rows, key=lambda r: r["current_cost"], reverse=True)
