"""Seed 004's admin routes, ``POST /api/admin/agents/{id}/...``, in its ``{"success": true, ...}`` envelope.

An agent's budget is its monthly cost budget in the budget store (scope ``agent/{id}``): ``budget``
sets its limit (``max_monthly_cost_usd``), creating it when the agent has none, from the default
``agent/*`` monthly budget if there is one (its thresholds, grace and hardness) so the agent keeps
the fleet's rules. ``budget/reset`` is that budget's reset (spend counted from now for the rest of
the month); an agent covered only by the default gets a budget of its own at the default's limit,
reset, since resetting the default would reset every agent. ``pause``/``unpause`` are the scope
pauses of ``api/pauses.py``. All go through the native budget and pause routes' code, and need the
admin role (``auth.http_role``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field
from spendgate.collector.api.pauses import PauseActions, PauseBody
from spendgate.collector.api.routes import BudgetActions
from spendgate.collector.api.seed_envelope import SeedResponse, number, ok, seed_router
from spendgate.collector.budgets.model import WILDCARD, Budget
from spendgate.collector.budgets.runtime import BudgetRuntime

AGENT = "agent"


class AgentBudgetBody(BaseModel):
    """The seed's body of ``POST /api/admin/agents/{id}/budget``."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"max_monthly_cost_usd": 100.0}]}
    )

    max_monthly_cost_usd: Decimal = Field(gt=0, description="the agent's monthly cost limit in USD")


def _monthly(budgets: list[Budget], scope_id: str) -> Budget | None:
    """The monthly cost budget of this agent id (or of ``*``: the default)."""
    return next(
        (
            b
            for b in budgets
            if (b.scope_type, b.scope_id, b.period, b.metric) == (AGENT, scope_id, "month", "cost")
        ),
        None,
    )


def _own_budget(agent_id: str, default: Budget | None, **fields: Any) -> Budget:
    """A new monthly cost budget of the agent: the default's rules if there is one, with ``fields``."""
    base = default.model_dump(exclude={"id", "reset_at", "unblocked_until"}) if default else {}
    name = f"agent {agent_id} monthly"
    return Budget.model_validate({**base, "scope_type": AGENT, "scope_id": agent_id, "name": name, **fields})


def _check_agent(agent_id: str) -> None:
    if not agent_id.strip() or agent_id == WILDCARD:
        raise HTTPException(422, f"name one agent, not {agent_id!r}")


def _answer(agent_id: str, budget: dict[str, Any]) -> SeedResponse:
    return ok(
        {
            "agent_id": agent_id,
            "budget_id": budget["id"],
            "max_monthly_cost_usd": number(budget["limit_usd"]),  # a monthly cost budget's limit
            "reset_at": budget["reset_at"],
            "budget": budget,  # the native budget, as GET /api/v1/costs/budgets/{id} shows it
        }
    )


class _SeedAdmin:
    def __init__(self, runtime: BudgetRuntime) -> None:
        self.budgets = BudgetActions(runtime)
        self.pauses = PauseActions(runtime)

    def set_budget(self, agent_id: str, body: AgentBudgetBody, request: Request) -> SeedResponse:
        """Set the agent's monthly cost limit, creating its budget if it has none."""
        _check_agent(agent_id)
        stored = self.budgets.store.all()
        own = _monthly(stored, agent_id)
        limit = body.max_monthly_cost_usd
        if own is not None:
            return _answer(agent_id, self.budgets.change(own.id, {"limit": limit}, request))
        budget = _own_budget(agent_id, _monthly(stored, WILDCARD), limit=limit)
        return _answer(agent_id, self.budgets.create(budget, request))

    def reset_budget(self, agent_id: str, request: Request) -> SeedResponse:
        """Count the agent's monthly spend from now on (the budget's reset)."""
        _check_agent(agent_id)
        stored = self.budgets.store.all()
        own = _monthly(stored, agent_id)
        if own is not None:
            return _answer(agent_id, self.budgets.reset(own.id, request))
        default = _monthly(stored, WILDCARD)
        if default is None:
            raise HTTPException(404, f"agent {agent_id!r} has no monthly cost budget to reset")
        budget = _own_budget(agent_id, default, limit=default.limit, reset_at=datetime.now(UTC))
        return _answer(agent_id, self.budgets.create(budget, request))

    def pause(self, agent_id: str, request: Request, body: PauseBody | None = None) -> SeedResponse:
        """Pause the agent by hand: it is blocked whatever its spend, until unpaused."""
        return ok(self.pauses.pause(request, AGENT, agent_id, body))

    def unpause(self, agent_id: str, request: Request) -> SeedResponse:
        """Lift the agent's pause (idempotent)."""
        return ok(self.pauses.unpause(request, AGENT, agent_id))


def build_router(runtime: BudgetRuntime) -> APIRouter:
    admin = _SeedAdmin(runtime)
    routes = (
        ("/{agent_id}/budget", admin.set_budget, "Set an agent's monthly budget"),
        ("/{agent_id}/budget/reset", admin.reset_budget, "Reset an agent's monthly spend"),
        ("/{agent_id}/pause", admin.pause, "Pause an agent"),
        ("/{agent_id}/unpause", admin.unpause, "Unpause an agent"),
    )
    return seed_router("/api/admin/agents", "POST", routes)
