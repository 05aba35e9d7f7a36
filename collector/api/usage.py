"""Seed 000's usage API: per-request usage, the period summary, and run counts per dimension.

Thin over the costs API (:mod:`costs`): ``GET /api/v1/usage`` is ``/costs/records`` with the
seed's names (``project_id``, ``agent_id``, ``run_id``, ``tokens_input``, ``tokens_output``,
``cost_usd``, ``created_at``), ``/usage/summary`` is ``/costs/summary`` with total tokens, the run
count and the matching budget's utilisation, and every ``/usage/by-<dimension>`` item gets
``total_tokens``, ``run_count`` and ``avg_tokens_per_run`` (seed 000's agent-type query) from the
raw rows (``api/usage_by_spans.sql``), which also serve the dimensions the daily rollup lacks.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from spendgate.collector.api.params import Filters, Period, RecordFilters, link_next
from spendgate.collector.budgets.status import read_status
from spendgate.collector.storage import Storage

from spendgate.dimensions import ScopeType

# Seed 000's usage_tracking names for the records' fields.
_SEED_RECORD = {
    "project_id": "project",
    "agent_id": "agent",
    "run_id": "run",
    "model": "priced_model",
    "tokens_input": "input_tokens",
    "tokens_output": "output_tokens",
    "cost_usd": "total_cost",
    "created_at": "start_time",
}


def path_of(dimension: str) -> str:
    """The route of spend by ``dimension``: /usage/by-agent-type for agent_type."""
    return "/usage/by-" + dimension.replace("_", "-")


def spans_by(storage: Storage, dimension: str, low: date, high: date) -> dict[str, dict[str, Any]]:
    """Calls, runs, tokens and cost per value of ``dimension`` over the days, from the raw rows."""
    rows = storage.rows("api/usage_by_spans.sql", {"dimension": dimension, "start": low, "end": high})
    return {r["key"]: r for r in rows}


def with_runs(dimension: str, items: list[dict[str, Any]], spans: dict[str, dict[str, Any]]) -> None:
    """Add total tokens, run count and tokens per run to each item (and the seed's name and type of
    an agent); runs are ``spendgate.scope(run=...)`` blocks, so calls outside one count none."""
    for item in items:
        raw = spans.get(item[dimension], {})
        item["total_tokens"] = item["input_tokens"] + item["output_tokens"]
        item["run_count"] = runs = raw.get("runs", 0)
        per_run = Decimal(raw["run_tokens"]) / runs if runs else None
        item["avg_tokens_per_run"] = per_run.quantize(Decimal("0.1")) if per_run is not None else None
        if dimension == "agent":
            item["name"], item["type"] = item["agent"], raw.get("type_of_agent", "")


def seed_day(row: dict[str, Any]) -> dict[str, Any]:
    """A /usage/daily row with seed 000's ``date`` and ``total_tokens`` too."""
    return row | {"date": row["day"], "total_tokens": row["input_tokens"] + row["output_tokens"]}


def _budget_of(storage: Storage, scope_type: str, scope_id: str, period: str) -> dict[str, Any]:
    """The dashboard's "64% of $200": the cost budget of the scope for the period, if there is one."""
    for scope in read_status(storage, scope_type, scope_id):
        if scope.metric == "cost" and scope.period == period and scope.scope_id == scope_id:
            return {
                "budget_id": scope.budget_id,
                "limit_usd": scope.limit,
                "utilization_percent": scope.utilization.quantize(Decimal("0.01")),
            }
    return {"budget_id": None, "limit_usd": None, "utilization_percent": None}


def add_routes(
    router: APIRouter,
    storage: Storage,
    page: Callable[..., tuple[list[dict[str, Any]], str | None]],
    summary: Callable[..., dict[str, Any]],
    jsonable: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    """``GET /api/v1/usage`` and ``/usage/summary`` over the costs API's records and summary."""

    @router.get("/usage", summary="Per-request usage records (seed 000's usage_tracking)")
    def usage(
        request: Request,
        response: Response,
        filters: Annotated[Filters, Depends(RecordFilters)],
        start: datetime | None = None,
        end: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: str | None = None,
    ) -> list[dict[str, Any]]:
        """The records of ``/costs/records`` with seed 000's field names beside the native ones,
        paged the same way (the ``Link`` and ``X-Next-Cursor`` headers)."""
        records, next_cursor = page(filters, start, end, limit, cursor)
        for record in records:
            record.update({seed: record[native] for seed, native in _SEED_RECORD.items()})
        link_next(request, response, next_cursor)
        return records

    @router.get("/usage/summary", summary="Total cost, tokens and runs of a period, against its budget")
    def usage_summary(
        period: Period = "month",
        scope_type: ScopeType = "global",
        scope_id: str = "",
        tz: str = "UTC",
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> dict[str, Any]:
        """Seed 000's summary cards: total cost, total tokens, agent runs, % of the period's budget."""
        native = summary(scope_type=scope_type, scope_id=scope_id, period=period, tz=tz, start=start, end=end)
        totals = native["totals"]
        explicit = start is not None or end is not None  # then no calendar period, and no budget of one
        budget = {} if explicit else _budget_of(storage, scope_type, scope_id, period)
        return native | jsonable(
            {
                "period": None if explicit else period,
                "total_cost": totals["total_cost"],
                "total_tokens": totals["input_tokens"] + totals["output_tokens"],
                "tokens_input": totals["input_tokens"],
                "tokens_output": totals["output_tokens"],
                "calls": totals["calls"],
                "run_count": totals["runs"],
                **budget,
            }
        )
