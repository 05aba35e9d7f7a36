"""The budgets HTTP API: budgets, overrides, flags and alerts.

JSON in and out; errors are ``{"detail": ...}`` with 400/404/409/422 as usual.
Every change is stored in ClickHouse and triggers an evaluation at once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, HTTPException, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from spendgate.collector.api import alert_config
from spendgate.collector.api.auth import changed_by
from spendgate.collector.api.bodies import (
    BUDGET_CHANGES_EXAMPLE,
    NEW_BUDGET_EXAMPLES,
    BudgetChanges,
    NewBudget,
)
from spendgate.collector.api.budget_view import BudgetView
from spendgate.collector.api.costs import jsonable
from spendgate.collector.api.pauses import paused_scopes
from spendgate.collector.budgets.alerts import read_alerts
from spendgate.collector.budgets.decision import Estimate, parse_scopes
from spendgate.collector.budgets.flag_service import blocking_flags
from spendgate.collector.budgets.history import history_json
from spendgate.collector.budgets.model import Budget, ScopeType
from spendgate.collector.budgets.runtime import BudgetRuntime
from spendgate.collector.budgets.status import STATUS, read_status
from spendgate.collector.budgets.store import BudgetConflict, BudgetNotFound
from spendgate.collector.events.kinds import budget_changed


class Override(BaseModel):
    """Lift a block for a while, or change the limit: at least one of the three."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"unblock_for_minutes": 60}, {"limit": "25"}]}
    )

    unblock_until: datetime | None = None  # no block before this time
    unblock_for_minutes: int | None = Field(default=None, gt=0, le=60 * 24 * 90)
    limit: Decimal | None = Field(default=None, gt=0)  # raise (or lower) the limit


UNREADABLE = "X-Unreadable-Budgets"  # ids (percent-encoded) of stored budgets that fail to validate

# The seed's check fields when no budget applies (a budget's figures replace them).
_NO_BUDGET: dict[str, Any] = dict.fromkeys(
    ("limit_usd", "current_spend_usd", "utilization_percent", "remaining_usd"), None
) | {"is_exceeded": False, "is_warning": False}


def _matches(item: Any, scope_type: str | None, scope_id: str | None) -> bool:
    return (scope_type is None or item.scope_type == scope_type) and (
        scope_id is None or item.scope_id == scope_id
    )


def _validation_error(exc: ValidationError) -> HTTPException:
    problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors())
    return HTTPException(422, f"invalid budget: {problems}")


class BudgetActions:
    """The budget store behind the routes: look-ups that 404, changes that re-evaluate at once.
    The seed's admin routes (``seed_admin.py``) create, change and reset budgets through it too."""

    def __init__(self, runtime: BudgetRuntime) -> None:
        self.runtime = runtime
        self.store = runtime.store

    def get(self, budget_id: str) -> Budget:
        try:
            return self.store.get(budget_id)
        except BudgetNotFound:
            raise HTTPException(404, f"no budget {budget_id!r}") from None

    def json(self, budget: Budget) -> dict[str, Any]:
        return BudgetView.read(self.runtime).json(budget)

    def change(self, budget_id: str, changes: dict[str, Any], request: Request) -> dict[str, Any]:
        self.get(budget_id)
        try:
            budget = self.store.update(budget_id, changes, by=changed_by(request.scope))
        except ValidationError as exc:
            raise _validation_error(exc) from None
        self.runtime.changed()
        self.announce("updated", budget)
        return self.json(budget)

    def create(self, budget: Budget, request: Request) -> dict[str, Any]:
        try:
            self.store.create(budget, by=changed_by(request.scope))
        except BudgetConflict as exc:
            raise HTTPException(409, str(exc)) from None
        self.runtime.changed()
        self.announce("created", budget)
        return self.json(budget)

    def reset(self, budget_id: str, request: Request) -> dict[str, Any]:
        """Count spend from now on for the rest of the current period."""
        changes = {"reset_at": datetime.now(UTC).isoformat(), "unblocked_until": None}
        return self.change(budget_id, changes, request)

    def announce(self, kind: str, budget: Budget) -> None:
        """A budget.created, budget.updated or budget.deleted event."""
        if (events := self.runtime.events) is not None:
            events.publish([budget_changed(kind, budget)])


def build_router(runtime: BudgetRuntime) -> APIRouter:
    # Registration order matters: the fixed paths (check, status) before /budgets/{budget_id}.
    router = APIRouter()
    budgets = BudgetActions(runtime)
    _add_collection_routes(router, budgets)
    _add_budget_routes(router, budgets)
    _add_action_routes(router, budgets)
    _add_flag_and_alert_routes(router, runtime)
    return router


def _add_collection_routes(router: APIRouter, budgets: BudgetActions) -> None:
    runtime, store = budgets.runtime, budgets.store
    checker = runtime.checker

    @router.get("/api/v1/costs/budgets", summary="List budgets")
    def list_budgets(
        response: Response, scope_type: ScopeType | None = None, scope_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Every budget (of a scope type, or one scope), each with its current flags, as a JSON
        array. Stored budgets this version cannot read are named in ``X-Unreadable-Budgets``."""
        selected = [b for b in store.all() if _matches(b, scope_type, scope_id)]
        if store.broken:
            response.headers[UNREADABLE] = ", ".join(quote(budget_id) for budget_id in store.broken)
        view = BudgetView.read(runtime)  # one read of the status snapshot for all of them
        return [view.json(b) for b in selected]

    @router.post("/api/v1/costs/budgets", summary="Create a budget")
    def create_budget(
        body: Annotated[NewBudget, Body(examples=NEW_BUDGET_EXAMPLES)], request: Request
    ) -> dict[str, Any]:
        """Create a budget; it is evaluated at once. 200 (seed 001's status) with the budget; 409 if
        the id is taken."""
        try:
            budget = Budget.model_validate(body.given())
        except ValidationError as exc:
            raise _validation_error(exc) from None
        return budgets.create(budget, request)

    @router.get("/api/v1/costs/budgets/check", summary="Check a scope's budgets")
    def check(
        scope_type: ScopeType = "global",
        scope_id: str = "",
        estimated_cost: str = "",
        estimated_tokens: str = "",
    ) -> dict[str, Any]:
        """The seeds' is_budget_available: the same decision as the gRPC Check (budgets/decision.py)."""
        try:
            scopes = parse_scopes([(scope_type, scope_id)])
            estimate = Estimate.parse(estimated_cost, estimated_tokens)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        decision = checker.check(scopes, estimate)
        flags = [f.to_json() for f in blocking_flags(runtime.board, scopes)]
        answer = _NO_BUDGET | decision.to_json()  # the seed's figures are there, null, without a budget
        return {"scope_type": scope_type, "scope_id": scopes[0][1], **answer, "flags": flags}

    @router.get("/api/v1/costs/budgets/status")
    def status(scope_type: ScopeType | None = None, scope_id: str | None = None) -> dict[str, Any]:
        """Every budget scope in the newest evaluation, ok ones included (per agent: scope_type=agent)."""
        scopes = [
            jsonable(STATUS.by_name(row))
            for row in read_status(runtime.storage, scope_type or "", scope_id or "")
        ]
        evaluated = [scope.pop("evaluated_at") for scope in scopes]  # one snapshot: the same in all
        return {
            "evaluated_at": evaluated[0] if evaluated else None,
            "scopes": scopes,
            "paused": paused_scopes(runtime, scope_type, scope_id),  # blocked by hand, whatever the spend
        }


def _add_budget_routes(router: APIRouter, budgets: BudgetActions) -> None:
    @router.get("/api/v1/costs/budgets/{budget_id}")
    def read_budget(budget_id: str) -> dict[str, Any]:
        """One budget with its current flags."""
        return budgets.json(budgets.get(budget_id))

    @router.get("/api/v1/costs/budgets/{budget_id}/history")
    def budget_history(budget_id: str) -> dict[str, Any]:
        """Every version, oldest first, deleted budgets included."""
        try:
            versions = budgets.store.history(budget_id)
        except BudgetNotFound:
            raise HTTPException(404, f"no budget {budget_id!r} was ever stored") from None
        return {"budget_id": budget_id, "versions": history_json(versions)}

    @router.put("/api/v1/costs/budgets/{budget_id}")
    def update_budget(
        budget_id: str,
        body: Annotated[BudgetChanges, Body(examples=[BUDGET_CHANGES_EXAMPLE])],
        request: Request,
    ) -> dict[str, Any]:
        """Change some fields of a budget (a partial update: the others keep their values)."""
        changes = body.given()
        if "id" in changes and changes["id"] != budget_id:
            raise HTTPException(400, "the id in the body differs from the id in the path")
        return budgets.change(budget_id, changes, request)

    @router.delete("/api/v1/costs/budgets/{budget_id}", status_code=204)
    def delete_budget(budget_id: str, request: Request) -> Response:
        """Delete a budget (its history is kept)."""
        budget = budgets.get(budget_id)
        budgets.store.delete(budget_id, by=changed_by(request.scope))
        budgets.runtime.changed()
        budgets.announce("deleted", budget)
        return Response(status_code=204)


def _add_action_routes(router: APIRouter, budgets: BudgetActions) -> None:
    # A disabled budget never blocks; /pause and /resume are the older names (a pause is now a
    # scope's, api/pauses.py).
    @router.post("/api/v1/costs/budgets/{budget_id}/disable")
    @router.post("/api/v1/costs/budgets/{budget_id}/pause")
    def disable(budget_id: str, request: Request) -> dict[str, Any]:
        """Disable a budget: it never blocks until enabled again."""
        return budgets.change(budget_id, {"active": False}, request)

    @router.post("/api/v1/costs/budgets/{budget_id}/enable")
    @router.post("/api/v1/costs/budgets/{budget_id}/resume")
    def enable(budget_id: str, request: Request) -> dict[str, Any]:
        """Enable a disabled budget again."""
        return budgets.change(budget_id, {"active": True}, request)

    @router.post("/api/v1/costs/budgets/{budget_id}/reset")
    def reset(budget_id: str, request: Request) -> dict[str, Any]:
        """Count spend from now on for the rest of the current period."""
        return budgets.reset(budget_id, request)

    @router.post("/api/v1/costs/budgets/{budget_id}/override")
    def override(budget_id: str, body: Override, request: Request) -> dict[str, Any]:
        """Unblock a budget until a time or for some minutes, or change its limit."""
        changes: dict[str, Any] = {}
        until = body.unblock_until
        if body.unblock_for_minutes is not None:
            until = datetime.now(UTC) + timedelta(minutes=body.unblock_for_minutes)
        if until is not None:
            changes["unblocked_until"] = until.isoformat()
        if body.limit is not None:
            changes["limit"] = str(body.limit)
        if not changes:
            raise HTTPException(400, "give unblock_until, unblock_for_minutes or limit")
        return budgets.change(budget_id, changes, request)


def _add_flag_and_alert_routes(router: APIRouter, runtime: BudgetRuntime) -> None:
    @router.get("/v1/flags")
    def flags(scope_type: ScopeType | None = None, scope_id: str | None = None) -> dict[str, Any]:
        """The budget flags agents enforce (the board's snapshot), and the agent-side limits."""
        snapshot = runtime.board.snapshot()
        selected = [f for f in snapshot.flags if _matches(f, scope_type, scope_id)]
        evaluator = runtime.evaluator
        return {
            "version": snapshot.version,
            "flags": [f.to_json() for f in selected],
            "limits": [b.model_dump(mode="json") for b in snapshot.limits],
            "evaluated_at": evaluator.last_run.isoformat() if evaluator and evaluator.last_run else None,
            "evaluation_error": evaluator.last_error if evaluator else None,
        }

    @router.get("/api/v1/alerts")
    def alerts(
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        since_hours: Annotated[int, Query(ge=1, le=24 * 400)] = 24 * 7,
    ) -> dict[str, Any]:
        """Alerts raised in the last ``since_hours`` hours, newest first."""
        since = datetime.now(UTC) - timedelta(hours=since_hours)
        return {"alerts": [alert_config.alert_json(a) for a in read_alerts(runtime.storage, since, limit)]}

    alert_config.add_routes(router, runtime.alert_config)
