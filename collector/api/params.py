"""The costs API's query parameters: periods, dimension filters and page cursors.

A page of records is a bare JSON array (the seeds' shape); the cursor of the next page travels in
the answer's headers: ``Link: <...&cursor=...>; rel="next"`` (RFC 8288, as GitHub's API pages) and
``X-Next-Cursor``. The last page has neither.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import HTTPException, Query, Request, Response
from pydantic import BaseModel, create_model
from spendgate.collector.budgets.model import calendar_bounds, epoch_micros, utc

from spendgate import dimensions as dims

Period = Literal["day", "week", "month", "year", "all"]
Filter = Annotated[str, Query(max_length=500)]
_FAR_FUTURE = datetime(2200, 1, 1, tzinfo=UTC)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Filters(BaseModel):
    """Values of dimensions that narrow the spend down, one query parameter each; '' matches all.
    A dimension's seed name (``agent_id`` for ``agent``) is the same filter under another name."""

    def values(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for name, value in self.model_dump().items():
            dimension = dims.SEED_NAMES.get(name, name)
            if value and out.get(dimension) and out[dimension] != value:
                raise HTTPException(422, f"{name} and {dimension} are one filter: give one")
            out[dimension] = out.get(dimension) or str(value)
        return out


def _filters(name: str, dimensions: Iterable[str]) -> type[Filters]:
    # Used as a dependency, FastAPI reads the model's fields as query parameters.
    seed_names = {d: s for s, d in dims.SEED_NAMES.items()}
    names = [alias for d in dimensions for alias in (d, seed_names.get(d)) if alias]
    fields: dict[str, Any] = {alias: (Filter, "") for alias in names}
    return create_model(name, __base__=Filters, **fields)


RecordFilters = _filters("RecordFilters", (d.name for d in dims.RECORDS_FILTERS))
UsageFilters = _filters("UsageFilters", dims.USAGE_ROUTES)


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


def time_range(
    period: Period | None, start: datetime | None, end: datetime | None, tz: str
) -> tuple[datetime, datetime]:
    """[start, end) in UTC: the explicit bounds if either is given, else the period's."""
    if start is None and end is None:
        return period_range(period or "month", tz)
    low, high = utc(start or _EPOCH), utc(end or _FAR_FUTURE)
    if high <= low:
        raise HTTPException(422, "end must be after start")
    return low, high


def day_range(period: Period, tz: str, start: date | None, end: date | None) -> tuple[date, date]:
    """First and last day, both included: the explicit ones if either is given, else the period's."""
    if start or end:
        low, high = start or date(1970, 1, 1), end or date(2199, 12, 31)
        if high < low:
            raise HTTPException(422, "end must not be before start")
        return low, high
    first, after = period_range(period, tz)
    return first.date(), (after - timedelta(microseconds=1)).date()


def parse_cursor(text: str | None) -> tuple[int, str, str]:
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


def cursor_after(row: dict[str, Any]) -> str:
    """The cursor of the page that follows ``row``."""
    key = f"{epoch_micros(row['start_time'])}:{row['trace_id']}:{row['span_id']}"
    return base64.urlsafe_b64encode(key.encode()).decode()


NEXT_CURSOR = "X-Next-Cursor"  # the next page's cursor, beside the Link header that names its URL


def link_next(request: Request, response: Response, cursor: str | None) -> None:
    """Announce the next page, if there is one, in ``response``'s headers."""
    if cursor is None:
        return
    url = request.url.include_query_params(cursor=cursor)
    response.headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
    response.headers[NEXT_CURSOR] = cursor
