"""Budget status snapshots: every budget scope as the evaluator last saw it.

Flags record only changes away from ok, so they cannot show a budget at 12 %.
The evaluator hands each evaluation here, and a complete snapshot (ok scopes
included) goes to ``budget_status`` when a state or budget changed, or when
``every`` seconds have passed: at most one row per scope and minute by
default, kept for seven days. Dashboards and ``GET /api/v1/costs/budgets/status``
read the newest snapshot.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from spendgate.collector.budgets.model import Evaluation
from spendgate.collector.tables import RecordReader, RecordWriter, Table

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScopeStatus:
    """One budget scope in one snapshot: a row of budget_status."""

    budget_id: str
    scope_type: str
    scope_id: str
    metric: str
    period: str
    state: str
    spend: Decimal
    limit: Decimal
    utilization: Decimal
    remaining: Decimal
    calls: int
    period_start: datetime
    period_end: datetime
    evaluated_at: datetime

    @classmethod
    def of(cls, e: Evaluation, now: datetime) -> ScopeStatus:
        b = e.budget
        return cls(
            budget_id=b.id,
            scope_type=b.scope_type,
            scope_id=e.scope_id,
            metric=b.metric,
            period=b.period,
            state=e.state,
            spend=e.spend,
            limit=b.limit,
            utilization=e.utilization,
            remaining=e.remaining,
            calls=e.calls,
            period_start=e.window_start,
            period_end=e.window_end,
            evaluated_at=now,
        )

    @classmethod
    def marker(cls, now: datetime) -> ScopeStatus:
        """The row of a snapshot with no budget in it (readers skip its empty budget id)."""
        zero = Decimal(0)
        return cls("", "", "", "", "", "", zero, zero, zero, zero, 0, now, now, now)


STATUS = Table("budget_status", ScopeStatus, renamed={"limit": "limit_amount"}, scales={"utilization": 6})


def read_status(storage: RecordReader, scope_type: str = "", scope_id: str = "") -> list[ScopeStatus]:
    """Every scope of the newest snapshot (``""``: any scope type, any id), fullest first."""
    parameters = {"scope_type": scope_type, "scope_id": scope_id}
    return storage.records(STATUS, "budgets/latest_status.sql", parameters)


class StatusRecorder:
    def __init__(self, storage: RecordWriter, every: float = 60.0) -> None:
        self._storage = storage
        self._every = every
        self._last_signature: object = None
        self._last_write: datetime | None = None

    def observe(self, evaluations: list[Evaluation], now: datetime) -> None:
        # What a reader would notice at once: a state, a limit, a budget added or removed.
        signature = [(e.budget, e.scope_id, e.state) for e in evaluations]  # budgets compare by value
        due = self._last_write is None or (now - self._last_write).total_seconds() >= self._every
        if signature == self._last_signature and not due:
            return
        try:
            # With no budget left to evaluate, an empty marker row ends the last snapshot.
            rows = [ScopeStatus.of(e, now) for e in evaluations] or [ScopeStatus.marker(now)]
            self._storage.insert(STATUS, rows)
        except Exception as exc:  # the next evaluation tries again; enforcement does not depend on it
            log.warning("could not store the budget status of %d scopes: %s", len(evaluations), exc)
            return
        self._last_signature, self._last_write = signature, now
