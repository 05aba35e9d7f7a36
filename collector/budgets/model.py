"""Budgets: what a scope may spend in a period, and the window each period covers now.

A budget names a scope (``global`` or one attribution dimension and its id),
a metric (USD cost, tokens or calls), a limit and a period: a calendar day, week
(Monday first) or month in the budget's time zone, a rolling window (of hours,
or of seconds: a calls budget over a short rolling window is a rate limit), or
a fixed start and end. Two periods are enforced in the agent instead of by
the evaluator: ``request`` caps each call's worst-case cost before it is sent,
and ``run`` caps one ``spendgate.scope(run=...)`` block. A ``concurrent``
budget (metric ``runs``) caps how many ``spendgate.run()`` blocks of a scope
run at once; the slot manager (``slots.py``) enforces it, not the evaluator. A scope id of ``*``
makes a default: one budget per id of that scope type that has no budget of
its own for the same period (the seeds' "project default $50").

Windows are computed in the time zone and returned
in UTC, so a day in Europe/Berlin is 23 or 25 hours long across DST changes.

The state a spend puts a budget scope in (:func:`state_of`) and the flag it
shows agents (:func:`flag_of`) are defined here, once, for the evaluator and
the fast path alike; an :class:`Evaluation` is one scope's spend as read.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)
from spendgate.collector.budgets import seed_names

from spendgate.dimensions import ScopeType
from spendgate.flag import Flag, State
from spendgate.money import SCALE, Money

DEFAULT_THRESHOLDS = (50, 80, 95, 100)
WARN_PERCENT = 80  # a threshold from here on warns (95 and 100 are critical), unless a budget says
Period = Literal["day", "week", "month", "rolling", "fixed", "request", "run", "concurrent"]
AGENT_PERIODS = ("request", "run")  # enforced in the agent, not by the evaluator
Metric = Literal["cost", "tokens", "calls", "runs"]  # runs: concurrent runs, with the concurrent period
SLOT_PERIOD = "concurrent"  # enforced by the slot manager, not by the evaluator
WILDCARD = "*"
RECHECK_FRACTION, RECHECK_MIN_SECONDS = 60, 0.25  # see Budget.recheck_every
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Budget(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": seed_names.EXAMPLES})

    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:16])
    scope_type: ScopeType
    scope_id: str = ""
    metric: Metric = "cost"
    # The seeds' names are aliases (seeds 001 and 003: limit_usd, limit_amount, is_hard_limit, ...).
    limit: Money = Field(
        gt=0,
        max_digits=38,
        decimal_places=SCALE,
        validation_alias=AliasChoices("limit", "limit_usd", "limit_amount"),
    )
    name: str = Field(default="", max_length=200)
    period: Period = "month"
    timezone: str = "UTC"
    rolling_hours: int | None = Field(default=None, gt=0)
    rolling_seconds: int | None = Field(default=None, gt=0, le=366 * 86_400)  # or this, for rate limits
    starts_at: datetime | None = Field(
        default=None, validation_alias=AliasChoices("starts_at", "period_start")
    )
    ends_at: datetime | None = Field(default=None, validation_alias=AliasChoices("ends_at", "period_end"))
    thresholds: tuple[int, ...] = DEFAULT_THRESHOLDS
    # Where warnings start (None: WARN_PERCENT); also an alert threshold. The seeds' alert_threshold
    # is the same as a fraction (0.8).
    warn_percent: int | None = Field(
        default=None, ge=1, le=100, validation_alias=AliasChoices("warn_percent", "alert_threshold_percent")
    )
    hard: bool = Field(default=True, validation_alias=AliasChoices("hard", "is_hard_limit"))
    grace_percent: Decimal = Field(default=Decimal(10), ge=0, le=100)  # hard budgets block at limit + grace
    active: bool = Field(default=True, validation_alias=AliasChoices("active", "is_active"))  # False: paused
    # Manual overrides: no block until this time; spend counted from this time on.
    unblocked_until: datetime | None = None
    reset_at: datetime | None = None
    # Override requests (budgets/overrides.py merges them in; never stored with the budget):
    # scope id -> the extra room approved for the current period, and -> the id of one pending.
    _allowances: dict[str, Decimal] = PrivateAttr(default_factory=dict)
    _pending: dict[str, str] = PrivateAttr(default_factory=dict)

    def with_overrides(self, allowances: dict[str, Decimal], pending: dict[str, str]) -> Budget:
        """A copy of this budget with these approved allowances and pending requests."""
        copy = self.model_copy()
        copy._allowances, copy._pending = allowances, pending
        return copy

    def allowance(self, scope_id: str | None = None) -> Decimal:
        return self._allowances.get(self.scope_id if scope_id is None else scope_id, Decimal(0))

    def pending_request(self, scope_id: str) -> str:
        return self._pending.get(scope_id, "")

    def block_point(self, scope_id: str | None = None) -> Decimal:
        """Where this scope blocks: :attr:`block_at` plus what overrides approved for this period."""
        return self.block_at + self.allowance(scope_id)

    @property
    def agent_enforced(self) -> bool:
        return self.period in AGENT_PERIODS

    @property
    def slot_limited(self) -> bool:
        return self.period == SLOT_PERIOD

    @property
    def is_default(self) -> bool:
        return self.scope_id == WILDCARD

    @property
    def window(self) -> timedelta | None:
        """The length of a rolling window; None for other periods."""
        if self.period != "rolling":
            return None
        if self.rolling_seconds is not None:
            return timedelta(seconds=self.rolling_seconds)
        return timedelta(hours=self.rolling_hours or 0)

    @property
    def recheck_every(self) -> float | None:
        """Seconds between evaluations of a rolling window that is not ok (None: not rolling): its
        spend drops only as the window slides, so its flag lifts within this of the spend aging out."""
        window = self.window
        if window is None:
            return None
        return max(window.total_seconds() / RECHECK_FRACTION, RECHECK_MIN_SECONDS)

    @property
    def rate_limit(self) -> bool:
        """A hard calls budget over a rolling window: the agent also enforces it on its own calls."""
        return self.metric == "calls" and self.period == "rolling" and self.hard

    @property
    def block_at(self) -> Decimal:
        """The spend at which a hard budget blocks: the limit plus its grace."""
        return self.limit * (100 + self.grace_percent) / 100

    @property
    def warn_at(self) -> int:
        """The utilisation in percent from which a crossed threshold warns."""
        return WARN_PERCENT if self.warn_percent is None else self.warn_percent

    @property
    def alert_threshold_percent(self) -> int | None:
        """The seeds' alert threshold: the first threshold that warns."""
        return min((t for t in self.thresholds if t >= self.warn_at), default=None)

    @classmethod
    def field_of(cls, key: str) -> str:
        """The field a request key sets: itself, or the field it is a seed name of."""
        return seed_names.field_of(cls, key)

    @model_validator(mode="before")
    @classmethod
    def _seed_fields(cls, data: Any) -> Any:
        return seed_names.normalise(cls, data)

    @field_validator("id")
    @classmethod
    def _addressable_id(cls, value: str) -> str:
        # /api/v1/costs/budgets/check and /status are endpoints, not budgets.
        if value in ("check", "status") or not value or "/" in value:
            raise ValueError(f"{value!r} cannot be a budget id (empty, '/', 'check' and 'status' are taken)")
        return value

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
            raise ValueError(
                f"a {self.scope_type} budget needs a scope_id (or * for every {self.scope_type})"
            )
        if any(t <= 0 or t > 1000 for t in self.thresholds):
            raise ValueError("thresholds are percentages between 1 and 1000")
        if self.warn_percent is not None and self.warn_percent not in self.thresholds:
            self.thresholds = tuple(sorted({*self.thresholds, self.warn_percent}))  # warnings alert too
        if (self.period == SLOT_PERIOD) != (self.metric == "runs"):
            raise ValueError("a concurrent budget has metric runs, and only a concurrent budget does")
        if self.period == SLOT_PERIOD and self.limit != int(self.limit):
            raise ValueError("a concurrent budget's limit is a whole number of runs")
        self._consistent_window()
        if self.metric == "calls" and self.period == "request":
            raise ValueError("a per-request budget cannot count calls: every request is one call")
        if self.period == "fixed":
            if self.starts_at is None or self.ends_at is None:
                raise ValueError("a fixed budget needs starts_at and ends_at")
            if self.ends_at <= self.starts_at:
                raise ValueError("ends_at must be after starts_at")
        return self

    def _consistent_window(self) -> None:
        given = [name for name in ("rolling_hours", "rolling_seconds") if getattr(self, name) is not None]
        if self.period == "rolling" and len(given) != 1:
            raise ValueError("a rolling budget needs one of rolling_hours and rolling_seconds, not both")
        if self.period != "rolling" and "rolling_seconds" in given:
            raise ValueError(f"rolling_seconds is for rolling budgets, not period {self.period!r}")


def explicit_scopes(budgets: list[Budget]) -> set[tuple[str, str, str, str]]:
    """(scope type, scope id, period, metric) of the budgets that name their scope: defaults skip these."""
    return {
        (budget.scope_type, budget.scope_id, budget.period, budget.metric)
        for budget in budgets
        if not budget.is_default and budget.active
    }


def own_budget_ids(budget: Budget, explicit: set[tuple[str, str, str, str]]) -> frozenset[str]:
    """The ids a default (``*``) budget skips: those with a budget of their own for its period and
    metric (from :func:`explicit_scopes`)."""
    kind = (budget.scope_type, budget.period, budget.metric)
    return frozenset(scope_id for (t, scope_id, p, m) in explicit if (t, p, m) == kind)


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def utc(moment: datetime) -> datetime:
    """The moment in UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def epoch_micros(moment: datetime) -> int:
    """Microseconds since the epoch, in integers: a float timestamp can lose the last microsecond."""
    delta = utc(moment) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def calendar_bounds(period: str, zone: ZoneInfo, now: datetime) -> tuple[datetime, datetime]:
    """The [start, end) in UTC of the calendar ``day``, ``week`` (Monday first), ``month`` or
    ``year`` that holds ``now`` in ``zone``."""
    today = utc(now).astimezone(zone).date()
    if period == "day":
        first, after = today, today + timedelta(days=1)
    elif period == "week":
        first = today - timedelta(days=today.weekday())
        after = first + timedelta(days=7)
    elif period == "month":
        first = today.replace(day=1)
        after = (first + timedelta(days=32)).replace(day=1)
    elif period == "year":
        first, after = date(today.year, 1, 1), date(today.year + 1, 1, 1)
    else:
        raise ValueError(f"{period!r} is not a calendar period")
    return utc(_local_midnight(first, zone)), utc(_local_midnight(after, zone))


def period_window(budget: Budget, now: datetime) -> tuple[datetime, datetime]:
    """The [start, end) of the budget's current period, in UTC, from a reset if one falls in it."""
    start, end = _period_bounds(budget, utc(now))
    if budget.reset_at is not None:
        start = min(max(start, utc(budget.reset_at)), end)
    return start, end


def _period_bounds(budget: Budget, now: datetime) -> tuple[datetime, datetime]:
    if budget.agent_enforced or budget.slot_limited:
        raise ValueError(f"a {budget.period} budget has no window: it is not evaluated")
    if budget.period == "rolling":
        assert budget.window is not None
        return now - budget.window, now + timedelta(microseconds=1)
    if budget.period == "fixed":
        assert budget.starts_at is not None and budget.ends_at is not None
        return utc(budget.starts_at), utc(budget.ends_at)
    return calendar_bounds(budget.period, ZoneInfo(budget.timezone), now)


def state_of(
    budget: Budget, spend: Decimal, now: datetime | None = None, scope_id: str | None = None
) -> tuple[State, Decimal]:
    """The flag state for this much spend (of ``scope_id``, for a default budget), and the utilisation
    in percent."""
    utilization = spend / budget.limit * 100
    unblocked = (
        budget.unblocked_until is not None and now is not None and utc(now) < utc(budget.unblocked_until)
    )
    if budget.hard and spend >= budget.block_point(scope_id) and budget.active and not unblocked:
        return "block", utilization
    crossed = [t for t in sorted(budget.thresholds) if utilization >= t]
    if not crossed:
        return "ok", utilization
    top = crossed[-1]
    if top >= 95 or utilization >= 100:
        return "critical", utilization
    if top >= budget.warn_at:
        return "warn", utilization
    return "ok", utilization  # 50 % is an info alert, not a flag change


@dataclass(frozen=True)
class Evaluation:
    """The spend of one budget scope in its current window, as the evaluator read it."""

    budget: Budget
    scope_id: str  # the budget's own, or one id of a default (``*``) budget
    window_start: datetime
    window_end: datetime
    spend: Decimal  # USD, tokens or calls: the budget's metric
    calls: int
    state: State
    utilization: Decimal  # percent of the limit

    @property
    def remaining(self) -> Decimal:
        return max(self.budget.limit - self.spend, Decimal(0))


def _quantity(budget: Budget, value: Decimal) -> str:
    return f"${value:,.2f}" if budget.metric == "cost" else f"{value:,.0f} {budget.metric}"


def _used(budget: Budget, spend: Decimal) -> str:
    """ "$1.20 of $5.00 spent", "87 of 100 calls used"."""
    if budget.metric == "cost":
        return f"${spend:,.2f} of ${budget.limit:,.2f} spent"
    return f"{spend:,.0f} of {budget.limit:,.0f} {budget.metric} used"


def describe(budget: Budget, scope_id: str) -> str:
    period: str = budget.period
    if budget.rolling_seconds is not None and budget.period == "rolling":
        period = f"{budget.rolling_seconds} s rolling"
    elif budget.period == "rolling":
        period = f"{budget.rolling_hours} h rolling"
    where = "global" if budget.scope_type == "global" else f"{budget.scope_type} {scope_id}"
    return f"{where} {period} budget {budget.id}"


def flag_of(budget: Budget, scope_id: str, spend: Decimal, window_end: datetime, now: datetime) -> Flag:
    """The flag of a budget scope at this spend: its state, and the reason agents are shown."""
    state, utilization = state_of(budget, spend, now, scope_id)
    reason = f"{_used(budget, spend)} ({describe(budget, scope_id)})"
    if budget.allowance(scope_id):
        reason += f"; {_quantity(budget, budget.allowance(scope_id))} more approved for this period"
    if state == "block":
        reason = "blocked: " + reason
        if budget.pending_request(scope_id):
            reason += f"; override request {budget.pending_request(scope_id)} pending"
    elif budget.unblocked_until is not None and spend >= budget.block_at and now < budget.unblocked_until:
        reason += f"; unblocked by an admin until {budget.unblocked_until.isoformat()}"
    elif not budget.hard and spend >= budget.limit:
        reason += "; soft budget: warning only"
    return Flag(
        budget_id=budget.id,
        scope_type=budget.scope_type,
        scope_id=scope_id,
        metric=budget.metric,
        state=state,
        spend=spend,
        limit=budget.limit,
        utilization=utilization,
        remaining=max(budget.limit - spend, Decimal(0)),
        period_end=window_end,
        reason=reason,
    )
