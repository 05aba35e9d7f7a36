"""How far to trust the month's projection (month to date / days elapsed x days in the month).

The projection assumes the days left cost what the days so far did on average. That holds better
the more days it has seen and the less they differ, so the level is read from both:

- ``days_elapsed``: days of the month so far, today included (the sample size);
- ``daily_cost_cv``: the coefficient of variation of those days' costs (population standard
  deviation / mean; days without spend count as 0).

``high``: at least 14 days and a CV of at most 0.5; ``medium``: at least 7 days and a CV of at
most 1; else ``low`` (a month without spend is ``low`` too: nothing to project from).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Literal

Level = Literal["low", "medium", "high"]
# (level, fewest days, largest CV), tried in order.
_LEVELS: tuple[tuple[Level, int, Decimal], ...] = (
    ("high", 14, Decimal("0.5")),
    ("medium", 7, Decimal(1)),
)


def variation(daily_costs: Sequence[Decimal]) -> Decimal | None:
    """The coefficient of variation of the daily costs; None without spend."""
    total = sum(daily_costs, Decimal(0))
    if not total:
        return None
    return (statistics.pstdev(daily_costs) * len(daily_costs) / total).quantize(Decimal("0.0001"))


def level(days_elapsed: int, cv: Decimal | None) -> Level:
    for name, fewest_days, largest_cv in _LEVELS:
        if cv is not None and days_elapsed >= fewest_days and cv <= largest_cv:
            return name
    return "low"


def projection_confidence(daily_costs: Sequence[Decimal]) -> dict[str, Any]:
    """The level and what it was read from, for the month's days so far (oldest first)."""
    cv = variation(daily_costs)
    return {
        "level": level(len(daily_costs), cv),
        "days_elapsed": len(daily_costs),
        "daily_cost_cv": cv,
    }
