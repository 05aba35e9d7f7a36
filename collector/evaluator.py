"""Budget evaluation: the spend of every budget's current window, in one query, and its flag state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from .budgets import Budget, State, period_window, state_of
from .storage import Storage


@dataclass(frozen=True)
class Evaluation:
    budget: Budget
    window_start: datetime
    window_end: datetime
    spend: Decimal  # USD, or tokens for token budgets
    calls: int
    state: State
    utilization: Decimal  # percent of the limit

    @property
    def remaining(self) -> Decimal:
        return max(self.budget.limit - self.spend, Decimal(0))


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def evaluate(storage: Storage, budgets: list[Budget], now: datetime) -> list[Evaluation]:
    """Evaluate the active budgets against ClickHouse at ``now``."""
    active = [budget for budget in budgets if budget.active]
    if not active:
        return []
    windows = [period_window(budget, now) for budget in active]
    result = storage.client.query(
        storage.sql("budgets/spend_in_windows.sql"),
        parameters={
            "budget_ids": [budget.id for budget in active],
            "scope_types": [budget.scope_type for budget in active],
            "scope_ids": [budget.scope_id for budget in active],
            "starts_us": [_micros(start) for start, _ in windows],
            "ends_us": [_micros(end) for _, end in windows],
        },
    )
    spent = {row[0]: (Decimal(row[1]), int(row[2]), int(row[3])) for row in result.result_rows}
    evaluations = []
    for budget, (start, end) in zip(active, windows, strict=True):
        cost, tokens, calls = spent.get(budget.id, (Decimal(0), 0, 0))
        spend = cost if budget.metric == "cost" else Decimal(tokens)
        state, utilization = state_of(budget, spend)
        evaluations.append(Evaluation(budget, start, end, spend, calls, state, utilization))
    return evaluations
