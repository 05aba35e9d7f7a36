"""Seed 000's ``GET|PUT /api/v1/limits`` and ``GET /api/v1/limits/status``: budgets under the seed's names.

A seed limit is a budget of a metric and period (:data:`LIMIT_KEYS`) on a scope: ``global``, a
project's or agent's default (scope id ``*``: ``per_project.default``, ``per_agent.default``) or
one project or agent (``projects.<id>.limits``, ``per_agent.<id>``). ``GET`` reads them from the
budget store (the lowest limit where several budgets match), ``PUT`` sets the limit of every
matching budget, creates one where none matches and deletes them for ``null``; keys left out stay
as they are. The status is the newest evaluation of those budgets (``budget_status``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from spendgate.collector.api.auth import changed_by
from spendgate.collector.api.costs import jsonable
from spendgate.collector.budgets.model import WILDCARD, Budget, Metric, Period
from spendgate.collector.budgets.runtime import BudgetRuntime
from spendgate.collector.budgets.status import read_status

# Seed key -> (metric, period) of its budget.
LIMIT_KEYS: dict[str, tuple[Metric, Period]] = {
    "max_tokens_per_day": ("tokens", "day"),
    "max_cost_per_day": ("cost", "day"),
    "max_cost_per_month": ("cost", "month"),
    "max_concurrent_agents": ("runs", "concurrent"),
    "max_tokens_per_run": ("tokens", "run"),
    "max_cost_per_run": ("cost", "run"),
}
_KEY_OF = {spec: key for key, spec in LIMIT_KEYS.items()}
_DEFAULT = "default"  # the seed's name of the scope id *


class ScopeLimits(BaseModel):
    """The seed's limits of one scope; ``null`` removes one, a key left out stays as it is."""

    model_config = ConfigDict(extra="forbid")

    max_tokens_per_day: Decimal | None = Field(default=None, gt=0)
    max_cost_per_day: Decimal | None = Field(default=None, gt=0)
    max_cost_per_month: Decimal | None = Field(default=None, gt=0)
    max_concurrent_agents: Decimal | None = Field(default=None, gt=0)
    max_tokens_per_run: Decimal | None = Field(default=None, gt=0)
    max_cost_per_run: Decimal | None = Field(default=None, gt=0)


class LimitSections(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # "global" is a Python keyword: the field is global_, the JSON key global.
    global_: ScopeLimits | None = Field(default=None, alias="global")
    per_project: dict[str, ScopeLimits] = {}  # "default" or a project id
    per_agent: dict[str, ScopeLimits] = {}  # "default" or an agent id


class ProjectLimits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limits: ScopeLimits


class LimitsBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "limits": {
                        "global": {"max_tokens_per_day": 1000000, "max_cost_per_day": 50.0},
                        "per_project": {"default": {"max_cost_per_day": 20.0, "max_cost_per_month": 200.0}},
                        "per_agent": {"default": {"max_tokens_per_run": 100000, "max_cost_per_run": 5.0}},
                    },
                    "projects": {"my-arpg": {"limits": {"max_cost_per_day": 30.0}}},
                }
            ]
        },
    )

    limits: LimitSections = LimitSections()
    projects: dict[str, ProjectLimits] = {}


def _scopes(body: LimitsBody) -> list[tuple[str, str, ScopeLimits]]:
    """(scope type, scope id, limits) of every scope the body names."""

    def scope_id(name: str) -> str:
        return WILDCARD if name == _DEFAULT else name

    sections = body.limits
    scopes = [("global", "", sections.global_)] if sections.global_ is not None else []
    scopes += [("project", scope_id(name), limits) for name, limits in sections.per_project.items()]
    scopes += [("agent", scope_id(name), limits) for name, limits in sections.per_agent.items()]
    scopes += [("project", name, project.limits) for name, project in body.projects.items()]
    return scopes


def _limit_of(budget: Budget) -> str | None:
    """The seed key of a budget, if it is one of the seed's limits."""
    if not budget.active or budget.scope_type not in ("global", "project", "agent"):
        return None
    return _KEY_OF.get((budget.metric, budget.period))


def limits_json(budgets: list[Budget]) -> dict[str, Any]:
    """The budgets that are seed limits, in the seed's ``limits:`` / ``projects:`` shape."""
    found: dict[tuple[str, str], dict[str, Decimal]] = {}
    for budget in budgets:
        if (key := _limit_of(budget)) is not None:
            scope = found.setdefault((budget.scope_type, budget.scope_id), {})
            scope[key] = min(scope.get(key, budget.limit), budget.limit)
    out: dict[str, Any] = {"limits": {"global": {}, "per_project": {}, "per_agent": {}}, "projects": {}}
    for (scope_type, scope_id), values in sorted(found.items()):
        shown = jsonable(dict(sorted(values.items())))
        if scope_type == "global":
            out["limits"]["global"] = shown
        elif scope_id == WILDCARD:
            out["limits"]["per_" + scope_type][_DEFAULT] = shown
        elif scope_type == "project":
            out["projects"][scope_id] = {"limits": shown}
        else:
            out["limits"]["per_agent"][scope_id] = shown
    return out


def _budget(budget_id: str, scope_type: str, scope_id: str, key: str, value: Decimal) -> Budget:
    """The budget of a seed limit that no budget matched."""
    metric, period = LIMIT_KEYS[key]
    return Budget(
        id=budget_id,
        scope_type=scope_type,
        scope_id=scope_id,
        metric=metric,
        period=period,
        limit=value,
        name=key,
    )


def _apply(runtime: BudgetRuntime, body: LimitsBody, by: str) -> None:
    store = runtime.store
    budgets = store.all()
    for scope_type, scope_id, limits in _scopes(body):
        for key in limits.model_fields_set:
            value: Decimal | None = getattr(limits, key)
            metric, period = LIMIT_KEYS[key]
            matching = [
                b
                for b in budgets
                if (b.scope_type, b.scope_id, b.metric, b.period) == (scope_type, scope_id, metric, period)
                and b.active
            ]
            for budget in matching:
                if value is None:
                    store.delete(budget.id, by=by)
                else:
                    store.update(budget.id, {"limit": str(value)}, by=by)
            if value is not None and not matching:
                name = "default" if scope_id == WILDCARD else scope_id or "all"
                budget_id = f"limit-{scope_type}-{name}-{key}".replace("/", "-")
                store.put(_budget(budget_id, scope_type, scope_id, key, value), by=by)
    runtime.changed()


def build_router(runtime: BudgetRuntime) -> APIRouter:
    router = APIRouter(prefix="/api/v1")

    @router.get("/limits", summary="The seed's limits (global, per project, per agent), from the budgets")
    def read_limits() -> dict[str, Any]:
        """Each limit is the lowest active budget of its scope, metric and period."""
        return limits_json(runtime.store.all())

    @router.put("/limits", summary="Set, add or remove limits")
    def write_limits(body: LimitsBody, request: Request) -> dict[str, Any]:
        """Keys left out stay as they are; ``null`` removes a limit. Returns the limits after."""
        _apply(runtime, body, changed_by(request.scope))
        return limits_json(runtime.store.all())

    @router.get("/limits/status", summary="Current usage against each limit")
    def limits_status() -> dict[str, Any]:
        """Every scope of the newest evaluation under a seed limit (a default's scopes one by one).
        Per-run limits are enforced in the agent and have no status here."""
        keys = {b.id: key for b in runtime.store.all() if (key := _limit_of(b)) is not None}
        rows = [s for s in read_status(runtime.storage) if s.budget_id in keys]
        return {
            "evaluated_at": rows[0].evaluated_at.isoformat() if rows else None,
            "limits": [
                jsonable(
                    {
                        "limit": keys[s.budget_id],
                        "budget_id": s.budget_id,
                        "scope_type": s.scope_type,
                        "scope_id": s.scope_id,
                        "limit_value": s.limit,
                        "current": s.spend,
                        "remaining": s.remaining,
                        "utilization_percent": s.utilization.quantize(Decimal("0.01")),
                        "state": s.state,
                        "exceeded": s.spend >= s.limit,
                        "period_start": s.period_start,
                        "period_end": s.period_end,
                    }
                )
                for s in rows
            ],
        }

    return router
