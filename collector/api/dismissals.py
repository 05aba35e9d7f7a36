"""Dismissed insights: a person hides a suggestion in the web console, for everyone, until restored.

``GET /api/v1/costs/insights/dismissals`` (read) lists the dismissed insight ids (``Insight.id`` of
``advice.py``); ``POST`` the same path (admin) with ``{"insight_id": ..., "dismissed": true|false}``
dismisses or restores one. Every change is a row of ``insight_dismissals`` (migration 0029); the
newest row of an insight says whether it is dismissed, so restoring leaves the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from spendgate.collector.api.auth import changed_by
from spendgate.collector.api.costs import jsonable
from spendgate.collector.tables import Records, Table


@dataclass(frozen=True)
class Dismissal:
    """One change of an insight's dismissal, as insight_dismissals holds it."""

    insight_id: str
    dismissed: bool
    changed_by: str
    changed_at: datetime


DISMISSALS = Table("insight_dismissals", Dismissal)


class DismissalBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"insight_id": "cheaper_model:coder:openai:gpt-4o", "dismissed": True}]
        },
    )

    insight_id: str = Field(min_length=1, max_length=500, description="an insight's `id`")
    dismissed: bool = Field(default=True, description="false restores a dismissed insight")


def dismissed(storage: Records) -> list[Dismissal]:
    """The insights dismissed now, newest first."""
    return storage.records(DISMISSALS, "console/dismissed_insights.sql")


def build_router(storage: Records) -> APIRouter:
    router = APIRouter(prefix="/api/v1/costs/insights")

    @router.get(
        "/dismissals",
        summary="Dismissed insights",
        description="The ids of the insights dismissed now, with who dismissed them and when.",
    )
    def list_dismissals() -> dict[str, Any]:
        return {"dismissals": [jsonable(vars(d)) for d in dismissed(storage)]}

    @router.post(
        "/dismissals",
        summary="Dismiss or restore an insight",
        description="Stored for everyone (admin role); `dismissed: false` restores it.",
    )
    def change_dismissal(body: DismissalBody, request: Request) -> dict[str, Any]:
        row = Dismissal(body.insight_id, body.dismissed, changed_by(request.scope), datetime.now(UTC))
        storage.insert(DISMISSALS, [row])
        return jsonable(vars(row))

    return router
