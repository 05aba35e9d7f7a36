"""``GET /api/v1/costs/chargeback``: a month's spend per project or team, shared spend allocated.

The rows come from ``queries/api/chargeback.sql`` (the daily rollup: UTC days), the allocation
from :mod:`allocation` under the configured rule (``reports.chargeback.shared``) or the request's.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from spendgate.collector.api.allocation import Chargeback, Line, allocate
from spendgate.collector.api.costs import jsonable
from spendgate.collector.api.csv_export import CSV_ANSWER, FormatParam, csv_response
from spendgate.collector.report_config import SharedRule
from spendgate.collector.storage import Storage

Owner = Literal["project", "team"]
Month = Annotated[
    str | None,
    Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM (UTC); default: this month"),
]
_LINE_COLUMNS = ("calls", "direct_cost", "ticket_cost", "allocated_cost", "total_cost", "share_percent")


def _month_days(month: str | None) -> tuple[str, date, date]:
    """The month's name and its first and last day."""
    first = date.fromisoformat(f"{month}-01") if month else datetime.now(UTC).date().replace(day=1)
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    return first.strftime("%Y-%m"), first, last


def _line(by: Owner, line: Line, total: Decimal) -> dict[str, Any]:
    share = (line.total_cost / total * 100).quantize(Decimal("0.01")) if total else Decimal(0)
    values = (line.calls, line.direct_cost, line.ticket_cost, line.allocated_cost, line.total_cost, share)
    return jsonable({by: line.owner, **dict(zip(_LINE_COLUMNS, values, strict=True))})


def _lines(by: Owner, report: Chargeback) -> list[dict[str, Any]]:
    """Largest first; the unallocated line (owner '') last."""
    total = report.total_cost
    ordered = sorted(report.lines.values(), key=lambda line: (not line.owner, -line.total_cost, line.owner))
    return [_line(by, line, total) for line in ordered]


def build_router(storage: Storage, default_rule: SharedRule) -> APIRouter:
    router = APIRouter(prefix="/api/v1")

    @router.get(
        "/costs/chargeback", response_model=None, responses=CSV_ANSWER, summary="Chargeback report of a month"
    )
    def chargeback(
        month: Month = None,
        by: Owner = "project",
        shared: Annotated[
            SharedRule | None, Query(description="the allocation rule; default: reports.chargeback.shared")
        ] = None,
        format: FormatParam = "json",
    ) -> dict[str, Any] | StreamingResponse:
        """A month's spend per project (or team), with shared spend (calls without one) allocated by
        the rule: the ticket's owner where known, else in proportion to attributed spend. The
        lines add up exactly to ``total_cost``; the line with an empty owner is what no rule gave away."""
        name, first, last = _month_days(month)
        rows = storage.rows("api/chargeback.sql", {"by": by, "start": first, "end": last})
        report = allocate(rows, shared or default_rule)
        lines = _lines(by, report)
        if format == "csv":
            return csv_response(lines, f"chargeback-{by}-{name}", [by, *_LINE_COLUMNS])
        return {
            "month": name,
            "by": by,
            "rule": report.rule,
            "start": first.isoformat(),
            "end": last.isoformat(),
            **jsonable({"total_cost": report.total_cost, "shared_cost": report.shared_cost}),
            "lines": lines,
        }

    return router
