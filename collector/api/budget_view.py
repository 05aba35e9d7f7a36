"""A budget as the budgets API shows it: the stored budget, its flags and the seeds' fields.

Seeds 001 and 003 list each budget with what it has spent (``current_spend_usd``,
``utilization_percent``), ok ones included: those figures come from the newest
status snapshot (``budgets/status.py``, written by every evaluation), for a
default (``*``) budget from its fullest scope. A budget not evaluated yet shows
0; one the evaluator never counts (per request, per run, concurrent runs) shows
null. ``*_usd`` fields are null for token and call budgets.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from spendgate.collector.api.costs import jsonable
from spendgate.collector.budgets.model import Budget
from spendgate.collector.budgets.runtime import BudgetRuntime
from spendgate.collector.budgets.status import read_status

from spendgate.flag import percent_text


def seed_fields(budget: Budget, spend: Decimal | None, created_at: datetime | None) -> dict[str, Any]:
    """The seeds' fields of a budget that has spent ``spend`` (None: not counted by the evaluator)."""
    usd = budget.metric == "cost"
    utilization = None if spend is None else spend / budget.limit * 100
    return jsonable(
        {
            "limit_usd": budget.limit if usd else None,
            "current_spend_usd": spend if usd else None,
            "utilization_percent": None if utilization is None else percent_text(utilization),
            "alert_threshold_percent": budget.alert_threshold_percent,
            "is_hard_limit": budget.hard,
            "is_active": budget.active,
            "created_at": created_at,
        }
    )


class BudgetView:
    """The budgets' JSON, with the figures of one read of the status snapshot and the creation times."""

    def __init__(
        self, runtime: BudgetRuntime, spend: dict[str, Decimal], created: dict[str, datetime]
    ) -> None:
        self.runtime = runtime
        self._spend = spend
        self._created = created

    @classmethod
    def read(cls, runtime: BudgetRuntime) -> BudgetView:
        """A view on the newest snapshot and creation times (one read each)."""
        spend: dict[str, Decimal] = {}
        for row in read_status(runtime.storage):  # fullest first: a default budget's fullest scope
            spend.setdefault(row.budget_id, row.spend)
        return cls(runtime, spend, runtime.store.created())

    def spend(self, budget: Budget) -> Decimal | None:
        if budget.agent_enforced or budget.slot_limited:
            return None
        return self._spend.get(budget.id, Decimal(0))

    def json(self, budget: Budget) -> dict[str, Any]:
        data = budget.model_dump(mode="json")
        data["flags"] = [f.to_json() for f in self.runtime.board.flags() if f.budget_id == budget.id]
        return data | seed_fields(budget, self.spend(budget), self._created.get(budget.id))
