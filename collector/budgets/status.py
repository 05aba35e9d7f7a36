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
from datetime import datetime
from decimal import Decimal
from typing import Any

from spendgate.collector.budgets.evaluator import Evaluation
from spendgate.collector.storage import Storage

log = logging.getLogger(__name__)

COLUMNS = ["budget_id", "scope_type", "scope_id", "metric", "period", "state", "spend", "limit_amount",
           "utilization", "remaining", "calls", "period_start", "period_end", "evaluated_at"]  # fmt: skip
_PERCENT = Decimal("0.000001")


class StatusRecorder:
    def __init__(self, storage: Storage, every: float = 60.0) -> None:
        self._storage = storage
        self._every = every
        self._table = f"{storage.options.database}.budget_status"
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
            rows = [_row(e, now) for e in evaluations] or [_marker(now)]
            self._storage.client.insert(self._table, rows, column_names=COLUMNS)
        except Exception as exc:  # the next evaluation tries again; enforcement does not depend on it
            log.warning("could not store the budget status of %d scopes: %s", len(evaluations), exc)
            return
        self._last_signature, self._last_write = signature, now


def _marker(now: datetime) -> list[Any]:
    return ["", "", "", "", "", "", Decimal(0), Decimal(0), Decimal(0), Decimal(0), 0, now, now, now]


def _row(e: Evaluation, now: datetime) -> list[Any]:
    b = e.budget
    utilization = e.utilization.quantize(_PERCENT)
    return [b.id, b.scope_type, e.scope_id, b.metric, b.period, e.state, e.spend, b.limit, utilization,
            e.remaining, e.calls, e.window_start, e.window_end, now]  # fmt: skip
