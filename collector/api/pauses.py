"""Pause and unpause any scope by hand: a block independent of spend, with who and why.

``POST /api/v1/scopes/{scope_type}/{scope_id}/pause|unpause`` (the global scope:
``/api/v1/scopes/global/pause|unpause``) and ``GET /api/v1/scopes/paused``; the seed's
``POST /api/admin/agents/{id}/pause|unpause`` are thin routes over these (``seed_admin.py``).
A pause reaches the agents at once (the board wakes every watcher); so does an
unpause. Who: as for budget changes (``auth.changed_by``): the API key's name,
``cli`` for the spendgate command (``NAME (cli)`` with a key), else ``api``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field
from spendgate.collector.api.auth import changed_by
from spendgate.collector.budgets.model import WILDCARD, ScopeType
from spendgate.collector.budgets.runtime import BudgetRuntime
from spendgate.collector.events.kinds import scope_paused

from spendgate.dimensions import GLOBAL


class PauseBody(BaseModel):
    """Why the scope is paused (optional; shown to agents in the block's reason)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"reason": "runaway loop"}]})

    reason: str = Field(default="", max_length=500)


class PauseActions:
    """Pause, unpause and list scopes: the native routes below and the seed's (``seed_admin.py``)."""

    def __init__(self, runtime: BudgetRuntime) -> None:
        self.runtime = runtime

    def pause(
        self, request: Request, scope_type: str, scope_id: str, body: PauseBody | None
    ) -> dict[str, Any]:
        _check_scope(scope_type, scope_id)
        reason = (body or PauseBody()).reason.strip()
        by = changed_by(request.scope)
        stored = self.runtime.pauses.pause(scope_type, scope_id, reason, by)
        self.runtime.refresh_pauses()
        self._announce(True, scope_type, scope_id, by, reason)
        return stored.to_json()

    def unpause(self, request: Request, scope_type: str, scope_id: str) -> dict[str, Any]:
        _check_scope(scope_type, scope_id)
        by = changed_by(request.scope)
        stored = self.runtime.pauses.unpause(scope_type, scope_id, by)
        self.runtime.refresh_pauses()
        if stored is None:  # unpausing is idempotent: the scope runs either way
            return {"scope_type": scope_type, "scope_id": scope_id, "state": "ok", "paused": False}
        self._announce(False, scope_type, scope_id, by, "")
        return stored.to_json()

    def _announce(self, paused: bool, scope_type: str, scope_id: str, by: str, reason: str) -> None:
        if (events := self.runtime.events) is not None:
            events.publish([scope_paused(paused, scope_type, scope_id, by=by, reason=reason)])

    def listed(self, scope_type: str | None = None, scope_id: str | None = None) -> list[dict[str, Any]]:
        wanted = [p for p in self.runtime.pauses.paused() if scope_type is None or p.scope_type == scope_type]
        return [p.to_json() for p in wanted if scope_id is None or p.scope_id == scope_id]


def _check_scope(scope_type: str, scope_id: str) -> None:
    if scope_type == GLOBAL and scope_id:
        raise HTTPException(422, "the global scope has no id: use /api/v1/scopes/global/pause")
    if scope_type != GLOBAL and not scope_id.strip():
        raise HTTPException(422, f"a {scope_type} scope needs an id")
    if scope_id == WILDCARD:  # agents look pauses up by their own ids: a wildcard would match nothing
        raise HTTPException(422, f"a pause names one {scope_type}, not {WILDCARD}: pause global to stop all")


def paused_scopes(
    runtime: BudgetRuntime, scope_type: str | None, scope_id: str | None
) -> list[dict[str, Any]]:
    """The paused scopes as the status route shows them."""
    return PauseActions(runtime).listed(scope_type, scope_id)


def build_router(runtime: BudgetRuntime) -> APIRouter:
    router = APIRouter()
    pauses = PauseActions(runtime)

    @router.get("/api/v1/scopes/paused")
    def paused(scope_type: ScopeType | None = None, scope_id: str | None = None) -> dict[str, Any]:
        """The scopes paused by hand now, with who paused them, when and why."""
        return {"paused": pauses.listed(scope_type, scope_id)}

    @router.post("/api/v1/scopes/global/pause")
    def pause_global(request: Request, body: PauseBody | None = None) -> dict[str, Any]:
        """Pause every agent: each call is blocked until unpaused, whatever the spend."""
        return pauses.pause(request, GLOBAL, "", body)

    @router.post("/api/v1/scopes/global/unpause")
    def unpause_global(request: Request) -> dict[str, Any]:
        """End a global pause (idempotent)."""
        return pauses.unpause(request, GLOBAL, "")

    @router.post("/api/v1/scopes/{scope_type}/{scope_id}/pause")
    def pause_scope(
        request: Request, scope_type: ScopeType, scope_id: str, body: PauseBody | None = None
    ) -> dict[str, Any]:
        """Pause one scope (an agent, a project, ...): its calls are blocked until unpaused."""
        return pauses.pause(request, scope_type, scope_id, body)

    @router.post("/api/v1/scopes/{scope_type}/{scope_id}/unpause")
    def unpause_scope(request: Request, scope_type: ScopeType, scope_id: str) -> dict[str, Any]:
        """End a scope's pause (idempotent)."""
        return pauses.unpause(request, scope_type, scope_id)

    return router
