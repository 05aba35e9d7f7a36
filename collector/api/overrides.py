"""The override requests API: ask for more room in a blocked budget, approve or deny it.

``POST /api/v1/costs/budgets/{id}/override-requests`` (a read or an ingest key: agents ask too),
``GET /api/v1/costs/override-requests`` and ``.../{rid}`` (read; ``.../{rid}`` with an ingest key
too, so an agent can follow its request), ``POST .../{rid}/approve`` and ``/deny`` (admin). A
decision is final (409 on a second one) and re-evaluates at once, so the new flags reach agents.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from spendgate.collector.api.auth import changed_by
from spendgate.collector.budgets.model import Budget
from spendgate.collector.budgets.overrides import (
    AlreadyDecided,
    NotOverridable,
    OverrideRequest,
    RequestNotFound,
    Status,
)
from spendgate.collector.budgets.runtime import BudgetRuntime
from spendgate.collector.budgets.store import BudgetNotFound

_Text = Annotated[str, Field(max_length=2000)]


class NewRequest(BaseModel):
    """More room asked for in a budget: how much (its metric) and why."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"amount": "5", "reason": "finish the release run"}]}
    )

    amount: Decimal = Field(gt=0, max_digits=38, decimal_places=18)  # the budget's metric: USD or tokens
    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    scope_id: str | None = Field(default=None, max_length=500)  # needed for a default (*) budget
    requested_by: str | None = Field(default=None, max_length=200)  # default: the API key's name


class Approval(BaseModel):
    """Grant the request (or ``amount`` instead of what was asked)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"note": "ok for today"}]})

    amount: Decimal | None = Field(default=None, gt=0, max_digits=38, decimal_places=18)
    note: _Text = ""


class Denial(BaseModel):
    """Refuse the request, saying why."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"note": "over the quarter"}]})

    note: _Text


def who(request: Request) -> str:
    """The caller, as budget versions record it: the API key's name, ``cli``, or ``api``."""
    return changed_by(request.scope)


def build_router(runtime: BudgetRuntime) -> APIRouter:
    router = APIRouter()
    overrides = runtime.overrides

    def budget_of(budget_id: str) -> Budget:
        try:
            return runtime.store.get(budget_id)
        except BudgetNotFound:
            raise HTTPException(404, f"no budget {budget_id!r}") from None

    def found(request_id: str) -> OverrideRequest:
        try:
            return overrides.get(request_id)
        except RequestNotFound:
            raise HTTPException(404, f"no override request {request_id!r}") from None

    def answer(item: OverrideRequest) -> dict[str, Any]:
        body = item.to_json()
        body["history"] = [version.to_json() for version in overrides.history(item.id)]
        return body

    @router.post("/api/v1/costs/budgets/{budget_id}/override-requests", status_code=201)
    def create(budget_id: str, body: NewRequest, request: Request) -> dict[str, Any]:
        """Ask for more room in a (blocked) budget; an admin approves or denies it."""
        budget = budget_of(budget_id)
        try:
            item = overrides.create(
                budget, body.scope_id, body.amount, body.reason, body.requested_by or who(request)
            )
        except NotOverridable as exc:
            raise HTTPException(422, str(exc)) from None
        runtime.changed()  # the block's reason names the pending request
        return answer(item)

    @router.get("/api/v1/costs/override-requests")
    def list_requests(
        status: Status | None = None,
        budget_id: Annotated[str | None, Query(max_length=200)] = None,
    ) -> dict[str, Any]:
        """Override requests, newest first (by status or budget)."""
        selected = [
            item
            for item in overrides.all()
            if (status is None or item.status == status)
            and (budget_id is None or item.budget_id == budget_id)
        ]
        selected.sort(key=lambda item: item.changed_at, reverse=True)
        return {"override_requests": [item.to_json() for item in selected]}

    @router.get("/api/v1/costs/override-requests/{request_id}")
    def read(request_id: str) -> dict[str, Any]:
        """One override request with its history."""
        return answer(found(request_id))

    def decide(request_id: str, request: Request, approve: Approval | None, note: str) -> dict[str, Any]:
        current = found(request_id)
        budget = budget_of(current.budget_id) if approve is not None else None
        try:
            granted = approve.amount if approve is not None else None
            item = overrides.decide(request_id, budget, who(request), note, granted)
        except AlreadyDecided as exc:
            raise HTTPException(409, str(exc)) from None
        runtime.changed()  # an approval lifts the block at once
        return answer(item)

    @router.post("/api/v1/costs/override-requests/{request_id}/approve")
    def approve(request_id: str, request: Request, body: Approval | None = None) -> dict[str, Any]:
        """Approve a pending request: the budget gets the room for its current period at once."""
        approval = body or Approval()
        return decide(request_id, request, approval, approval.note)

    @router.post("/api/v1/costs/override-requests/{request_id}/deny")
    def deny(request_id: str, body: Denial, request: Request) -> dict[str, Any]:
        """Deny a pending request."""
        return decide(request_id, request, None, body.note)

    return router
