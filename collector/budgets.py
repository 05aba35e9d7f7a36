"""Budgets: what a scope may spend in a period, and the window each period covers now.

A budget names a scope (``global`` or one attribution dimension and its id),
a metric (USD cost or tokens), a limit and a period: a calendar day, week
(Monday first) or month in the budget's time zone, a rolling window of hours,
or a fixed start and end. Windows are computed in the time zone and returned
in UTC, so a day in Europe/Berlin is 23 or 25 hours long across DST changes.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ScopeType = Literal[
    "global", "project", "ticket", "task", "phase", "agent", "agent_type", "user", "team", "provider", "model"
]  # fmt: skip
DEFAULT_THRESHOLDS = (50, 80, 95, 100)
State = Literal["ok", "warn", "critical", "block"]


class Budget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:16])
    scope_type: ScopeType
    scope_id: str = ""
    metric: Literal["cost", "tokens"] = "cost"
    limit: Decimal = Field(gt=0)
    period: Literal["day", "week", "month", "rolling", "fixed"] = "month"
    timezone: str = "UTC"
    rolling_hours: int | None = Field(default=None, gt=0)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    thresholds: tuple[int, ...] = DEFAULT_THRESHOLDS
    hard: bool = True
    grace_percent: Decimal = Field(default=Decimal(0), ge=0)
    active: bool = True

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Budget:
        if self.scope_type == "global" and self.scope_id:
            raise ValueError("a global budget has no scope_id")
        if self.scope_type != "global" and not self.scope_id:
            raise ValueError(f"a {self.scope_type} budget needs a scope_id")
        if self.period == "rolling" and self.rolling_hours is None:
            raise ValueError("a rolling budget needs rolling_hours")
        if self.period == "fixed":
            if self.starts_at is None or self.ends_at is None:
                raise ValueError("a fixed budget needs starts_at and ends_at")
            if self.ends_at <= self.starts_at:
                raise ValueError("ends_at must be after starts_at")
        return self


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def period_window(budget: Budget, now: datetime) -> tuple[datetime, datetime]:
    """The [start, end) of the budget's current period, in UTC."""
    now = _utc(now)
    if budget.period == "rolling":
        assert budget.rolling_hours is not None
        return now - timedelta(hours=budget.rolling_hours), now + timedelta(microseconds=1)
    if budget.period == "fixed":
        assert budget.starts_at is not None and budget.ends_at is not None
        return _utc(budget.starts_at), _utc(budget.ends_at)
    zone = ZoneInfo(budget.timezone)
    today = now.astimezone(zone).date()
    if budget.period == "day":
        first, after = today, today + timedelta(days=1)
    elif budget.period == "week":
        first = today - timedelta(days=today.weekday())
        after = first + timedelta(days=7)
    else:
        first = today.replace(day=1)
        after = (first + timedelta(days=32)).replace(day=1)
    return _utc(_local_midnight(first, zone)), _utc(_local_midnight(after, zone))


def state_of(budget: Budget, spend: Decimal) -> tuple[State, Decimal]:
    """The flag state for this much spend, and the utilisation in percent."""
    utilization = spend / budget.limit * 100
    block_at = Decimal(100) + budget.grace_percent
    if budget.hard and utilization >= block_at:
        return "block", utilization
    crossed = [t for t in sorted(budget.thresholds) if utilization >= t]
    if not crossed:
        return "ok", utilization
    top = crossed[-1]
    if top >= 95 or utilization >= 100:
        return "critical", utilization
    if top >= 80:
        return "warn", utilization
    return "ok", utilization  # 50 % is an info alert, not a flag change
