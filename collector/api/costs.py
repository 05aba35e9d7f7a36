"""The costs HTTP API: records, summaries, usage by day and dimension, trends.

Every query is a .sql file in ``queries/api/`` with bound parameters; money is
returned as decimal strings. Periods are calendar periods in UTC (or
``tz``), or an explicit ``start``/``end``.
"""

from __future__ import annotations

import base64
import calendar
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, HTTPException, Query
from spendgate.collector.api import advice
from spendgate.collector.budgets.model import ScopeType, calendar_bounds, epoch_micros, utc
from spendgate.collector.storage import Storage

from spendgate.pricing import Pricer

Period = Literal["day", "week", "month", "year", "all"]
Dimension = Literal["agent", "project", "model", "provider", "ticket", "phase", "agent_type", "user", "team"]
_FAR_FUTURE = datetime(2200, 1, 1, tzinfo=UTC)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MONEY = ("input_cost", "cache_read_cost", "cache_write_cost", "output_cost", "total_cost", "cache_savings")


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise HTTPException(422, f"unknown time zone {tz!r}") from None


def period_range(period: Period, tz: str, now: datetime | None = None) -> tuple[datetime, datetime]:
    """[start, end) of the current calendar period in ``tz``, in UTC; ``all`` is everything."""
    if period == "all":
        return _EPOCH, _FAR_FUTURE
    return calendar_bounds(period, _zone(tz), now or datetime.now(UTC))


def _range(
    period: Period | None, start: datetime | None, end: datetime | None, tz: str
) -> tuple[datetime, datetime]:
    if start is None and end is None:
        return period_range(period or "month", tz)
    low, high = utc(start or _EPOCH), utc(end or _FAR_FUTURE)
    if high <= low:
        raise HTTPException(422, "end must be after start")
    return low, high


def _cursor(text: str | None) -> tuple[int, str, str]:
    """(start time in µs, trace id, span id) of the last row of the previous page."""
    if not text:
        return epoch_micros(_FAR_FUTURE), "ff" * 16, "ff" * 8
    try:
        micros, trace, span = base64.urlsafe_b64decode(text.encode()).decode().split(":")
        bytes.fromhex(trace), bytes.fromhex(span)
        if len(trace) != 32 or len(span) != 16 or not 0 <= int(micros) <= epoch_micros(_FAR_FUTURE):
            raise ValueError  # out of range, the query would wrap it and start over
        return int(micros), trace, span
    except ValueError:  # UnicodeDecodeError and binascii.Error are ValueErrors
        raise HTTPException(400, "cursor is not one this API returned") from None


def _next_cursor(row: dict[str, Any]) -> str:
    key = f"{epoch_micros(row['start_time'])}:{row['trace_id']}:{row['span_id']}"
    return base64.urlsafe_b64encode(key.encode()).decode()


def jsonable(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in row.items():
        if isinstance(value, Decimal):
            # Plain digits without trailing zeros: normalize() alone would print 100 as "1E+2".
            out[key] = format(value.normalize(), "f") if value else "0"
        elif isinstance(value, datetime):
            out[key] = (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
        elif isinstance(value, date):
            out[key] = value.isoformat()
        else:
            out[key] = value
    return out


Filter = Annotated[str, Query(max_length=500)]


def build_router(storage: Storage, pricer: Pricer) -> APIRouter:
    router = APIRouter(prefix="/api/v1")

    @router.get("/costs/records")
    def records(
        task: Filter = "",
        agent: Filter = "",
        project: Filter = "",
        ticket: Filter = "",
        phase: Filter = "",
        provider: Filter = "",
        model: Filter = "",
        start: datetime | None = None,
        end: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """Priced LLM calls, newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""
        low, high = _range("all", start, end, "UTC")
        cursor_us, cursor_trace, cursor_span = _cursor(cursor)
        rows = storage.rows(
            "api/records.sql",
            {
                "start_us": epoch_micros(low),
                "end_us": epoch_micros(high),
                "task": task,
                "agent": agent,
                "project": project,
                "ticket": ticket,
                "phase": phase,
                "provider": provider,
                "model": model,
                "limit": limit,
                "cursor_us": cursor_us,
                "cursor_trace": cursor_trace,
                "cursor_span": cursor_span,
            },
        )
        for row in rows:
            row["trace_id"], row["span_id"] = row.pop("trace_hex"), row.pop("span_hex")
        next_cursor = _next_cursor(rows[-1]) if len(rows) == limit else None
        return {"records": [jsonable(r) for r in rows], "next_cursor": next_cursor}

    @router.get("/costs/summary")
    def summary(
        scope_type: ScopeType = "global",
        scope_id: str = "",
        period: Period = "month",
        tz: str = "UTC",
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> dict[str, Any]:
        """Totals of a scope over a period, with breakdowns by provider and by model."""
        if scope_type != "global" and not scope_id:
            raise HTTPException(422, f"scope_type {scope_type} needs a scope_id")
        low, high = _range(period, start, end, tz)
        rows = storage.rows(
            "api/summary.sql",
            {
                "start_us": epoch_micros(low),
                "end_us": epoch_micros(high),
                "scope_type": scope_type,
                "scope_id": scope_id,
            },
        )
        empty = {
            "calls": 0,
            "runs": 0,
            "input_tokens": 0,
            "output_tokens": 0,
            "cache_read_tokens": 0,
            "cache_write_tokens": 0,
            "reasoning_tokens": 0,
            "total_cost": Decimal(0),
            "calls_not_catalogue_priced": 0,
        }
        total = next((r for r in rows if r["breakdown"] == "total"), empty)
        totals = {key: total[key] for key in empty}

        def part(kind: str, key: str) -> list[dict[str, Any]]:
            return [
                jsonable(
                    {
                        key: r[key],
                        "calls": r["calls"],
                        "total_cost": r["total_cost"],
                        "input_tokens": r["input_tokens"],
                        "output_tokens": r["output_tokens"],
                    }
                )
                for r in rows
                if r["breakdown"] == kind and r["calls"]
            ]

        return {
            "scope_type": scope_type,
            "scope_id": scope_id,
            "start": low.isoformat(),
            "end": high.isoformat(),
            "totals": jsonable(totals),
            "by_provider": part("provider", "provider"),
            "by_model": part("model", "model"),
        }

    def usage(dimension: str, low: date, high: date, filters: dict[str, str]) -> list[dict[str, Any]]:
        parameters = {"dimension": dimension, "start": low, "end": high, **filters}
        return storage.rows("api/usage_by.sql", parameters)

    def day_range(period: Period, tz: str, start: date | None, end: date | None) -> tuple[date, date]:
        if start or end:
            low, high = start or date(1970, 1, 1), end or date(2199, 12, 31)
            if high < low:
                raise HTTPException(422, "end must not be before start")
            return low, high
        first, after = period_range(period, tz)
        return first.date(), (after - timedelta(microseconds=1)).date()

    @router.get("/usage/daily")
    def daily(
        start: date | None = None,
        end: date | None = None,
        period: Period = "month",
        tz: str = "UTC",
        project: Filter = "",
        agent: Filter = "",
        provider: Filter = "",
        model: Filter = "",
    ) -> dict[str, Any]:
        """Spend per day (UTC days of the daily rollup)."""
        low, high = day_range(period, tz, start, end)
        rows = usage(
            "", low, high, {"project": project, "agent": agent, "provider": provider, "model": model}
        )
        return {
            "start": low.isoformat(),
            "end": high.isoformat(),
            "days": [jsonable({k: v for k, v in r.items() if k != "key"}) for r in rows],
        }

    def by(
        dimension: Dimension, period: Period, tz: str, start: date | None, end: date | None
    ) -> dict[str, Any]:
        low, high = day_range(period, tz, start, end)
        grouped: dict[str, dict[str, Any]] = {}
        for r in usage(dimension, low, high, {"project": "", "agent": "", "provider": "", "model": ""}):
            entry = grouped.setdefault(
                r["key"],
                {
                    dimension: r["key"],
                    "calls": 0,
                    "input_tokens": 0,
                    "output_tokens": 0,
                    "total_cost": Decimal(0),
                },
            )
            for key in ("calls", "input_tokens", "output_tokens", "total_cost"):
                entry[key] += r[key]
        total = sum((e["total_cost"] for e in grouped.values()), Decimal(0))
        items = sorted(grouped.values(), key=lambda e: e["total_cost"], reverse=True)
        for e in items:
            e["share_percent"] = (
                (e["total_cost"] / total * 100).quantize(Decimal("0.01")) if total else Decimal(0)
            )
        return {
            "start": low.isoformat(),
            "end": high.isoformat(),
            "total_cost": str(total),
            dimension + "s": [jsonable(e) for e in items],
        }

    def usage_by(dimension: Dimension) -> Any:
        def endpoint(
            period: Period = "month", tz: str = "UTC", start: date | None = None, end: date | None = None
        ) -> dict[str, Any]:
            return by(dimension, period, tz, start, end)

        endpoint.__doc__ = f"Spend by {dimension}, largest first, with each one's share."
        return endpoint

    for dimension in ("agent", "project", "model", "provider"):
        router.add_api_route(
            f"/usage/by-{dimension}", usage_by(dimension), methods=["GET"], name=f"usage_by_{dimension}"
        )

    @router.get("/costs/trends")
    def trends(days: Annotated[int, Query(ge=1, le=365)] = 30) -> dict[str, Any]:
        """Daily history, month to date, average per day and the month projected from it (UTC)."""
        today = datetime.now(UTC).date()
        first_of_month = today.replace(day=1)
        low = min(today - timedelta(days=days - 1), first_of_month)
        rows = {
            r["day"]: r
            for r in usage("", low, today, {"project": "", "agent": "", "provider": "", "model": ""})
        }
        history = [
            {
                "day": (today - timedelta(days=i)).isoformat(),
                "total_cost": str(rows[today - timedelta(days=i)]["total_cost"])
                if today - timedelta(days=i) in rows
                else "0",
                "calls": rows[today - timedelta(days=i)]["calls"] if today - timedelta(days=i) in rows else 0,
            }
            for i in reversed(range(days))
        ]
        month_to_date = sum((r["total_cost"] for d, r in rows.items() if d >= first_of_month), Decimal(0))
        elapsed = today.day
        per_day = month_to_date / elapsed
        days_in_month = calendar.monthrange(today.year, today.month)[1]
        return {
            "daily": history,
            "month_to_date": str(month_to_date),
            "average_per_day": str(per_day.quantize(Decimal("0.000001"))),
            "projected_month": str((per_day * days_in_month).quantize(Decimal("0.000001"))),
            "days_elapsed": elapsed,
            "days_in_month": days_in_month,
        }

    @router.post("/costs/forecast")
    def forecast(body: advice.ForecastRequest) -> dict[str, Any]:
        """Low / mid / high cost of pending tasks, and the assumptions behind them."""
        try:
            return advice.forecast(storage, body, pricer)
        except LookupError as exc:
            raise HTTPException(422, str(exc)) from None

    @router.get("/costs/insights")
    def insights(days: Annotated[int, Query(ge=1, le=365)] = 30) -> dict[str, Any]:
        """Optimisation suggestions from the last ``days`` days, largest saving first."""
        return {"days": days, "insights": [i.to_json() for i in advice.insights(storage, pricer, days)]}

    return router
