"""The seeds' names for the costs API's records and summaries (seeds 001 and 003).

The native routes answer with their own fields and these beside them, derived
from the same rows: a program written against the seeds reads ``cost_usd``,
``task_id`` or ``breakdown_by_model`` where native clients read ``total_cost``,
``task`` or ``by_model``. Money stays Decimal here; the routes format it (``Jsonable``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from spendgate import dimensions as dims

Jsonable = Callable[[dict[str, Any]], dict[str, Any]]  # the API's one formatter of money and times


def record_fields(row: dict[str, Any]) -> dict[str, Any]:
    """A stored call's seed fields; ``row`` has the native ones (hex trace and span ids)."""
    return {
        "id": row["trace_id"] + row["span_id"],  # what the call's row is stored under (its default call_key)
        **{seed: row[dimension] for seed, dimension in dims.SEED_NAMES.items()},
        "provider": row["provider"],
        "model": row["priced_model"],
        "input_tokens": row["input_tokens"],
        "output_tokens": row["output_tokens"],
        "total_tokens": row["input_tokens"] + row["output_tokens"],  # input counts cache reads and writes
        "cost_usd": row["total_cost"],
        "created_at": row["start_time"],
    }


def _by(rows: list[dict[str, Any]], kind: str, jsonable: Jsonable) -> dict[str, dict[str, Any]]:
    """One breakdown of the summary as the seed shows it: name -> cost and tokens."""
    return {
        r[kind]: jsonable({"cost_usd": r["total_cost"], "tokens": r["input_tokens"] + r["output_tokens"]})
        for r in rows
        if r["breakdown"] == kind and (r["calls"] or r["total_cost"])
    }


def summary_fields(
    total: dict[str, Any], rows: list[dict[str, Any]], start: datetime, end: datetime, jsonable: Jsonable
) -> dict[str, Any]:
    """The seed's summary fields from the totals row and the breakdown rows of ``api/summary.sql``;
    ``period_end`` is the range's end, not included."""
    flat = jsonable(
        {
            "total_cost_usd": total["total_cost"],
            "total_tokens": total["input_tokens"] + total["output_tokens"],
            "input_tokens": total["input_tokens"],
            "output_tokens": total["output_tokens"],
            "period_start": start,
            "period_end": end,
            "record_count": total.get("records", 0),
        }
    )
    return flat | {
        "breakdown_by_provider": _by(rows, "provider", jsonable),
        "breakdown_by_model": _by(rows, "model", jsonable),
        # seed 003's service: total_cost, and one row per provider and model
        "total_cost": flat["total_cost_usd"],
        "breakdown": [
            jsonable(
                {"provider": r["provider"], "model": r["model"], "cost": r["total_cost"], "calls": r["calls"]}
            )
            for r in rows
            if r["breakdown"] == "provider_model" and (r["calls"] or r["total_cost"])
        ],
    }
