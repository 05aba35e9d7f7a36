"""Seed 004's read routes, ``GET /api/cost/*``, in its ``{"success": true, "data": ...}`` envelope.

Thin routes over the native costs API (``/api/v1/costs/*``, ``/api/v1/usage/*``) and the budget
status: each calls the native endpoint and renames its fields to the seed's (``calls`` is
``operation_count``, a list item's cost ``cost_usd``), money as JSON numbers (:mod:`seed_envelope`).
An agent's id is its name (the ``agent`` dimension), so ``agent_id`` and ``agent_name`` are the same.
They need the read role (``auth.http_role``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query
from spendgate.collector.api.costs import CostsApi
from spendgate.collector.api.params import Period
from spendgate.collector.api.seed_agents import agent_rows
from spendgate.collector.api.seed_envelope import SeedResponse, number, ok, seed_router, seed_row
from spendgate.collector.budgets.runtime import BudgetRuntime
from spendgate.collector.storage import Storage

from spendgate.dimensions import ScopeType
from spendgate.pricing import Pricer

_COUNTS = {"calls": "operation_count", "runs": "run_count"}
_ITEM = _COUNTS | {"total_cost": "cost_usd"}  # a row of a breakdown list
_MONEY = ("total_cost",)
Top = Annotated[int, Query(ge=1, le=100, description="how many agents and models to list")]


def _items(rows: list[dict[str, Any]], limit: int | None = None) -> list[dict[str, Any]]:
    return [seed_row(r, _ITEM, (*_MONEY, "share_percent")) for r in rows[:limit]]


def _totals(summary: dict[str, Any]) -> dict[str, Any]:
    return seed_row(summary["totals"], _COUNTS, _MONEY)


def _local_start(summary: dict[str, Any], tz: str) -> datetime:
    """The first moment of a summary's period in ``tz`` (which the summary has checked)."""
    return datetime.fromisoformat(summary["start"]).astimezone(ZoneInfo(tz))


class _SeedCosts:
    def __init__(self, storage: Storage, pricer: Pricer, runtime: BudgetRuntime | None) -> None:
        self.native = CostsApi(storage, pricer)
        self.runtime = runtime

    def dashboard(self, tz: str = "UTC", limit: Top = 5) -> SeedResponse:
        """This month and today (totals), the top agents and models of the month by cost."""
        month = self.native.summary(period="month", tz=tz)
        today = self.native.summary(period="day", tz=tz)
        agents = self.native.usage_by("agent")(period="month", tz=tz)["agents"]
        for agent in agents:
            agent["agent_id"] = agent["agent_name"] = agent.pop("agent")
        return ok(
            {
                "current_month": {"month": _local_start(month, tz).strftime("%Y-%m"), **_totals(month)},
                "today": {"date": _local_start(today, tz).date().isoformat(), **_totals(today)},
                "top_agents": _items(agents, limit),
                "top_models": _items(month["by_model"], limit),
            }
        )

    def summary(
        self,
        scope_type: ScopeType = "global",
        scope_id: str = "",
        agent_id: Annotated[str, Query(max_length=500, description="shorthand for scope_type=agent")] = "",
        period: Period = "month",
        tz: str = "UTC",
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> SeedResponse:
        """Totals of one scope (all spend, an agent, a project, ...) over a period or start/end, with
        breakdowns by provider and model: ``/api/v1/costs/summary`` in the seed's envelope."""
        if agent_id:
            if scope_type != "global" or scope_id:
                raise HTTPException(422, "give agent_id or scope_type/scope_id, not both")
            scope_type, scope_id = "agent", agent_id
        native = self.native.summary(scope_type, scope_id, period, tz, start, end)
        return ok(
            {
                "scope_type": native["scope_type"],
                "scope_id": native["scope_id"],
                "period_start": native["start"],
                "period_end": native["end"],
                **seed_row(native["totals"], _COUNTS, _MONEY),
                "by_provider": _items(native["by_provider"]),
                "by_model": _items(native["by_model"]),
            }
        )

    def agents(
        self,
        tz: str = "UTC",
        include_unbudgeted: Annotated[
            bool, Query(description="also agents with spend this month and no budget (null budget fields)")
        ] = False,
    ) -> SeedResponse:
        """Every agent with a cost budget: the budget (from the newest budget evaluation), what the
        agent spent in its window, and whether it may run (not paused, not blocked)."""
        usage = self.native.usage_by("agent")(period="month", tz=tz)["agents"]
        return ok({"agents": agent_rows(usage, self.runtime, include_unbudgeted)})

    def models(self, period: Period = "month", tz: str = "UTC") -> SeedResponse:
        """Cost per model, largest first, with each one's share: ``/api/v1/usage/by-model``."""
        return self._usage_by("model", period, tz)

    def operations(
        self, period: Period = "month", tz: str = "UTC", start: date | None = None, end: date | None = None
    ) -> SeedResponse:
        """Cost per operation (chat, embeddings, ...), largest first, with each one's share, over a
        period or the days from ``start`` to ``end`` (UTC, both included): ``/api/v1/usage/by-operation``."""
        return self._usage_by("operation", period, tz, start, end)

    def _usage_by(
        self, dimension: str, period: Period, tz: str, start: date | None = None, end: date | None = None
    ) -> SeedResponse:
        native = self.native.usage_by(dimension)(period=period, tz=tz, start=start, end=end)
        return ok(
            {
                "period_start": native["start"],
                "period_end": native["end"],
                "total_cost": number(native["total_cost"]),
                dimension + "s": _items(native[dimension + "s"]),
            }
        )

    def trends(self, days: Annotated[int, Query(ge=1, le=365)] = 30) -> SeedResponse:
        """Daily cost of the last ``days`` days, month to date, average per day, the month projected
        from that average and the projection's confidence (low, medium, high): ``days_elapsed`` of the
        month and the coefficient of variation of their daily costs (see the README)."""
        native = self.native.trends(days)
        daily = [seed_row(d, {"day": "date", **_COUNTS}, _MONEY) for d in native["daily"]]
        confidence = native["confidence"]
        return ok(
            {
                "days": days,
                "daily": daily,
                "month_to_date": number(native["month_to_date"]),
                "average_daily_cost": number(native["average_per_day"]),
                "projected_monthly_cost": number(native["projected_month"]),
                "days_elapsed": native["days_elapsed"],
                "days_in_month": native["days_in_month"],
                "confidence": confidence["level"],
                "confidence_basis": seed_row(confidence, {}, ("daily_cost_cv",)),
            }
        )


def build_router(storage: Storage, pricer: Pricer, runtime: BudgetRuntime | None) -> APIRouter:
    api = _SeedCosts(storage, pricer, runtime)
    routes = (
        ("/dashboard", api.dashboard, "Overview: this month, today, the top agents and models"),
        ("/summary", api.summary, "Cost totals of a scope, with breakdowns by provider and model"),
        ("/agents", api.agents, "Per-agent budget status"),
        ("/models", api.models, "Cost by model"),
        ("/operations", api.operations, "Cost by operation type"),
        ("/trends", api.trends, "Daily trends and the month's projection, with its confidence"),
    )
    return seed_router("/api/cost", "GET", routes)
