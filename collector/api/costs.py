"""The costs HTTP API: records, summaries, usage by day and dimension, trends.

Every query is a .sql file in ``queries/api/`` with bound parameters; money is
returned as decimal strings in the one format of :mod:`spendgate.money`. Periods
are calendar periods in UTC (or ``tz``), or an explicit ``start``/``end`` (see :mod:`params`). The dimensions
that filter and group spend come from :mod:`spendgate.dimensions`.
"""

from __future__ import annotations

import calendar
import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse
from spendgate.collector.api import advice, seed_shapes, usage
from spendgate.collector.api.confidence import projection_confidence
from spendgate.collector.api.csv_export import CSV_ANSWER, FormatParam, csv_response, rows_as_csv, with_csv
from spendgate.collector.api.params import (
    Filters,
    Period,
    RecordFilters,
    UsageFilters,
    cursor_after,
    day_range,
    link_next,
    parse_cursor,
    time_range,
)
from spendgate.collector.budgets.model import epoch_micros
from spendgate.collector.storage import Storage

from spendgate.dimensions import SPANS_USAGE, USAGE_ROUTES, ScopeType
from spendgate.money import money_text
from spendgate.pricing import Pricer

# The totals of a scope without calls, in the order the summary lists them.
_NO_TOTALS: dict[str, Any] = {
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
_BREAKDOWN = ("calls", "total_cost", "input_tokens", "output_tokens")  # per provider or model
_USAGE = ("calls", "input_tokens", "output_tokens", "total_cost")  # per dimension value
EXPORT_PAGE_ROWS = 1000  # records a CSV export reads per query


def jsonable(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in row.items():
        if isinstance(value, Decimal):
            out[key] = money_text(value)
        elif isinstance(value, datetime):
            out[key] = (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
        elif isinstance(value, date):
            out[key] = value.isoformat()
        else:
            out[key] = value
    return out


def _record(row: dict[str, Any]) -> dict[str, Any]:
    """A records.sql row as the API names its columns, with the seeds' names too."""
    row["trace_id"], row["span_id"] = row.pop("trace_hex"), row.pop("span_hex")
    row.update(seed_shapes.record_fields(row))
    return row


def _breakdown(rows: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The summary's rows of one breakdown (``provider`` or ``model``), those with calls or spend
    (a local model's fixed monthly cost is spend without calls)."""
    return [
        jsonable({kind: r[kind], **{key: r[key] for key in _BREAKDOWN}})
        for r in rows
        if r["breakdown"] == kind and (r["calls"] or r["total_cost"])
    ]


def _usage_columns(dimension: str) -> list[str]:
    """The columns of a usage-by answer without rows (those with rows name their own)."""
    return [dimension, *_USAGE, "share_percent"]


def _shares(dimension: str, rows: list[dict[str, Any]]) -> tuple[Decimal, list[dict[str, Any]]]:
    """Daily usage rows summed per value of ``dimension``, largest first, with each one's share."""
    grouped: dict[str, dict[str, Any]] = {}
    for r in rows:
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
        for key in _USAGE:
            entry[key] += r[key]
    total = sum((e["total_cost"] for e in grouped.values()), Decimal(0))
    items = sorted(grouped.values(), key=lambda e: e["total_cost"], reverse=True)
    for e in items:
        e["share_percent"] = (
            (e["total_cost"] / total * 100).quantize(Decimal("0.01")) if total else Decimal(0)
        )
    return total, items


def _history(rows: dict[date, dict[str, Any]], today: date, days: int) -> list[dict[str, Any]]:
    """Cost and calls of each of the last ``days`` days, oldest first; days without spend are 0."""
    history = []
    for back in reversed(range(days)):
        day = today - timedelta(days=back)
        row = rows.get(day)
        history.append(
            {
                "day": day.isoformat(),
                "total_cost": money_text(row["total_cost"]) if row else "0",
                "calls": row["calls"] if row else 0,
            }
        )
    return history


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


class CostsApi:
    """The endpoints, on the storage they read and the pricer that prices forecasts; the seed
    routes (``seed_dashboard.py``) call these methods too, so each answer has one implementation."""

    def __init__(self, storage: Storage, pricer: Pricer) -> None:
        self.storage = storage
        self.pricer = pricer

    def records(
        self,
        request: Request,
        response: Response,
        filters: Annotated[Filters, Depends(RecordFilters)],
        start: datetime | None = None,
        end: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: str | None = None,
    ) -> list[dict[str, Any]]:
        """Priced LLM calls, newest first, as a JSON array. When more follow, the ``Link`` header
        (rel="next") names the next page and ``X-Next-Cursor`` its cursor, to pass back as ``cursor``.
        With ``format=csv``, every record from ``cursor`` on (``limit`` is the JSON page size)."""
        records, next_cursor = self.page(filters, start, end, limit, cursor)
        link_next(request, response, next_cursor)
        return records

    def page(
        self,
        filters: Filters,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The JSON records of one page from ``cursor`` on, and the next page's cursor (None: last)."""
        low, high = time_range("all", start, end, "UTC")
        _, records, next_cursor = self.record_page(filters, low, high, limit, cursor)
        return records, next_cursor

    def records_csv(
        self,
        filters: Filters,
        start: datetime | None = None,
        end: datetime | None = None,
        cursor: str | None = None,
    ) -> StreamingResponse:
        """:meth:`records` from ``cursor`` on as CSV, page after page (``limit`` pages JSON only)."""
        low, high = time_range("all", start, end, "UTC")
        header, records, next_cursor = self.record_page(filters, low, high, EXPORT_PAGE_ROWS, cursor)
        rest = self._records_after(filters, low, high, next_cursor)
        return csv_response(itertools.chain(records, rest), "records", header)

    def record_page(
        self, filters: Filters, low: datetime, high: datetime, limit: int, cursor: str | None
    ) -> tuple[list[str], list[dict[str, Any]], str | None]:
        """The column names, the JSON records of one page and the cursor of the next (None: last)."""
        cursor_us, cursor_trace, cursor_span = parse_cursor(cursor)
        parameters = {"start_us": epoch_micros(low), "end_us": epoch_micros(high), **filters.values()}
        page = {
            "limit": limit,
            "cursor_us": cursor_us,
            "cursor_trace": cursor_trace,
            "cursor_span": cursor_span,
        }
        names, stored = self.storage.named_rows("api/records.sql", parameters | page)
        rows = [_record(row) for row in stored]
        next_cursor = cursor_after(rows[-1]) if len(rows) == limit else None
        header = list(_record(dict.fromkeys(names, "")))  # the columns, for an answer without rows
        return header, [jsonable(r) for r in rows], next_cursor

    def _records_after(
        self, filters: Filters, low: datetime, high: datetime, cursor: str | None
    ) -> Iterator[dict[str, Any]]:
        """The records from ``cursor`` on, page after page, read while the CSV answer is sent."""
        while cursor is not None:
            _, records, cursor = self.record_page(filters, low, high, EXPORT_PAGE_ROWS, cursor)
            yield from records

    def summary(
        self,
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
        low, high = time_range(period, start, end, tz)
        parameters = {"start_us": epoch_micros(low), "end_us": epoch_micros(high)}
        rows = self.storage.rows(
            "api/summary.sql", parameters | {"scope_type": scope_type, "scope_id": scope_id}
        )
        total = next((r for r in rows if r["breakdown"] == "total"), _NO_TOTALS)
        return {
            "scope_type": scope_type,
            "scope_id": scope_id,
            "start": low.isoformat(),
            "end": high.isoformat(),
            "totals": jsonable({key: total[key] for key in _NO_TOTALS}),
            "by_provider": _breakdown(rows, "provider"),
            "by_model": _breakdown(rows, "model"),
            **seed_shapes.summary_fields(total, rows, low, high, jsonable),
        }

    def _usage(
        self, dimension: str, low: date, high: date, filters: Filters | None = None
    ) -> list[dict[str, Any]]:
        """Spend per day and value of ``dimension`` ('' for all together) from the daily rollup."""
        return self._named_usage(dimension, low, high, filters)[1]

    def _named_usage(
        self, dimension: str, low: date, high: date, filters: Filters | None = None
    ) -> tuple[tuple[str, ...], list[dict[str, Any]]]:
        """:meth:`_usage` with its column names."""
        narrowed = (filters or UsageFilters()).values()
        return self.storage.named_rows(
            "api/usage_by.sql", {"dimension": dimension, "start": low, "end": high, **narrowed}
        )

    def daily(
        self,
        filters: Annotated[Filters, Depends(UsageFilters)],
        start: date | None = None,
        end: date | None = None,
        period: Period = "month",
        tz: str = "UTC",
        format: FormatParam = "json",
    ) -> dict[str, Any] | StreamingResponse:
        """Spend per day (UTC days of the daily rollup); ``format=csv``: the days as CSV."""
        low, high = day_range(period, tz, start, end)
        names, rows = self._named_usage("", low, high, filters)
        days = [jsonable(usage.seed_day({k: v for k, v in r.items() if k != "key"})) for r in rows]
        if format == "csv":
            header = usage.seed_day({name: 0 for name in names if name != "key"})  # an empty answer's
            return csv_response(days, "usage-daily", list(header))
        return {"start": low.isoformat(), "end": high.isoformat(), "days": days}

    def usage_by(self, dimension: str) -> Callable[..., dict[str, Any]]:
        """The endpoint of spend by one dimension: from the daily rollup, or from the raw rows for
        the dimensions it lacks (usage.SPANS_USAGE); run counts from the raw rows."""

        def endpoint(
            period: Period = "month", tz: str = "UTC", start: date | None = None, end: date | None = None
        ) -> dict[str, Any]:
            low, high = day_range(period, tz, start, end)
            spans = usage.spans_by(self.storage, dimension, low, high)
            rows = list(spans.values()) if dimension in SPANS_USAGE else self._usage(dimension, low, high)
            total, items = _shares(dimension, rows)
            usage.with_runs(dimension, items, spans)
            return {
                "start": low.isoformat(),
                "end": high.isoformat(),
                "total_cost": money_text(total),
                dimension + "s": [jsonable(e) for e in items],
            }

        endpoint.__doc__ = f"Spend by {dimension}, largest first, with each one's share."
        return endpoint

    def trends(self, days: Annotated[int, Query(ge=1, le=365)] = 30) -> dict[str, Any]:
        """Daily history, month to date, average per day and the month projected from it (UTC), with
        the projection's confidence (:mod:`confidence`)."""
        today = datetime.now(UTC).date()
        first_of_month = today.replace(day=1)
        low = min(today - timedelta(days=days - 1), first_of_month)
        rows = {r["day"]: r for r in self._usage("", low, today)}
        month_to_date = sum((r["total_cost"] for d, r in rows.items() if d >= first_of_month), Decimal(0))
        elapsed = today.day
        per_day = month_to_date / elapsed
        days_in_month = calendar.monthrange(today.year, today.month)[1]
        month_days = [
            rows[d]["total_cost"] if d in rows else Decimal(0) for d in _days(first_of_month, today)
        ]
        return {
            "daily": _history(rows, today, days),
            "month_to_date": money_text(month_to_date),
            "average_per_day": money_text(per_day.quantize(Decimal("0.000001"))),
            "projected_month": money_text((per_day * days_in_month).quantize(Decimal("0.000001"))),
            "days_elapsed": elapsed,
            "days_in_month": days_in_month,
            "confidence": jsonable(projection_confidence(month_days)),
        }

    def forecast(self, body: advice.ForecastRequest) -> dict[str, Any]:
        """Low / mid / high cost of pending tasks, and the assumptions behind them."""
        try:
            return advice.forecast(self.storage, body, self.pricer)
        except LookupError as exc:
            raise HTTPException(422, str(exc)) from None

    def insights(self, days: Annotated[int, Query(ge=1, le=365)] = 30) -> dict[str, Any]:
        """Optimisation suggestions from the last ``days`` days, largest saving first."""
        return {
            "days": days,
            "insights": [i.to_json() for i in advice.insights(self.storage, self.pricer, days)],
        }


def build_router(storage: Storage, pricer: Pricer) -> APIRouter:
    api = CostsApi(storage, pricer)
    router = APIRouter(prefix="/api/v1")
    router.add_api_route(
        "/costs/records",
        with_csv(api.records, api.records_csv),
        methods=["GET"],
        summary="List cost records",
        response_model=None,
        responses=CSV_ANSWER,
    )
    router.add_api_route("/costs/summary", api.summary, methods=["GET"], summary="Cost summary of a scope")
    router.add_api_route(
        "/usage/daily", api.daily, methods=["GET"], response_model=None, responses=CSV_ANSWER
    )
    for dimension in (*USAGE_ROUTES, *SPANS_USAGE):
        endpoint = api.usage_by(dimension)
        as_csv = rows_as_csv(endpoint, dimension + "s", f"usage-by-{dimension}", _usage_columns(dimension))
        router.add_api_route(
            usage.path_of(dimension),
            with_csv(endpoint, as_csv),
            methods=["GET"],
            name=f"usage_by_{dimension}",
            response_model=None,  # JSON or CSV
            responses=CSV_ANSWER,
        )
    usage.add_routes(router, storage, api.page, api.summary, jsonable)
    router.add_api_route("/costs/trends", api.trends, methods=["GET"])
    router.add_api_route("/costs/forecast", api.forecast, methods=["POST"], summary="Forecast pending tasks")
    router.add_api_route("/costs/insights", api.insights, methods=["GET"])
    return router
