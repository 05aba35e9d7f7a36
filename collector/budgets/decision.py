"""The pre-flight check: may work of this estimated cost go ahead in these scopes?

The seeds' ``is_budget_available(scope, estimated_cost)``, answered once for
``GET /api/v1/costs/budgets/check`` and the gRPC ``BudgetFlags.Check``. Every
budget that applies to the scopes is weighed (global always applies; a scope's
own budgets and the ``*`` defaults of its type): a hard budget refuses when it
blocks already, or when spend + reservations held + the estimate would pass
its block point (limit plus grace), unless an admin unblocked it. A soft budget
never refuses; it warns. A USD estimate is weighed against cost budgets, an
estimate of tokens against token budgets.

The figures come from the fast path's live counts (``live``). A collector
without one (external evaluator mode) answers from the newest status snapshot
and the flags it serves (``snapshot``), and says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from spendgate.collector.budgets.board import FlagBoard
from spendgate.collector.budgets.evaluator import window_budgets
from spendgate.collector.budgets.fast_path import LiveSpend, Standing, covers
from spendgate.collector.budgets.model import (
    Budget,
    State,
    describe,
    explicit_scopes,
    flag_of,
    own_budget_ids,
    state_of,
)
from spendgate.collector.budgets.status import ScopeStatus

from spendgate.dimensions import GLOBAL, SCOPE_TYPES
from spendgate.flag import Flag, percent_text
from spendgate.money import money_text
from spendgate.pricing.overrides import wire_amount

Source = Literal["live", "snapshot"]
SOURCE_NOTES: dict[Source, str] = {
    "live": "",
    "snapshot": "no live counter here (external evaluator): figures of the newest status snapshot",
}


@dataclass(frozen=True)
class Estimate:
    cost: Decimal = Decimal(0)  # USD, weighed against cost budgets
    tokens: Decimal = Decimal(0)  # weighed against token budgets

    @classmethod
    def parse(cls, cost: str, tokens: str = "") -> Estimate:
        """From request text; ValueError names the bad field."""
        return cls(wire_amount(cost, "estimated_cost"), wire_amount(tokens, "estimated_tokens"))

    def of(self, budget: Budget) -> Decimal:
        return self.cost if budget.metric == "cost" else self.tokens


def parse_scopes(scopes: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The scopes asked about; ValueError names an unknown scope type or a missing id."""
    for scope_type, scope_id in scopes:
        if scope_type not in SCOPE_TYPES:
            raise ValueError(f"scope type {scope_type[:40]!r} is not one of {', '.join(SCOPE_TYPES)}")
        if scope_type != GLOBAL and not scope_id:
            raise ValueError(f"a {scope_type} scope needs an id")
    return [(t, "" if t == GLOBAL else i) for t, i in scopes]


@dataclass(frozen=True)
class BudgetDecision:
    """One budget's answer."""

    budget: Budget
    scope_id: str
    spend: Decimal
    held: Decimal
    state: State
    allowed: bool
    reason: str

    @property
    def utilization(self) -> Decimal:
        return self.spend / self.budget.limit * 100

    @property
    def is_exceeded(self) -> bool:
        return self.spend >= self.budget.limit

    @property
    def is_warning(self) -> bool:
        return self.state in ("warn", "critical") and not self.is_exceeded

    @property
    def remaining(self) -> Decimal:
        return max(self.budget.limit - self.spend - self.held, Decimal(0))

    def to_json(self) -> dict[str, Any]:
        """Amounts as decimal text; the seed's ``*_usd`` names for cost budgets (null for tokens)."""
        b = self.budget
        usd = b.metric == "cost"
        return {
            "budget_id": b.id,
            "scope_type": b.scope_type,
            "scope_id": self.scope_id,
            "metric": b.metric,
            "period": b.period,
            "hard": b.hard,
            "state": self.state,
            "allowed": self.allowed,
            "reason": self.reason,
            "limit": _text(b.limit),
            "spend": _text(self.spend),
            "held": _text(self.held),
            "remaining": _text(self.remaining),
            "limit_usd": _text(b.limit) if usd else None,
            "current_spend_usd": _text(self.spend) if usd else None,
            "remaining_usd": _text(self.remaining) if usd else None,
            "utilization_percent": percent_text(self.utilization),
            "is_exceeded": self.is_exceeded,
            "is_warning": self.is_warning,
        }


_text = money_text


def _amount(budget: Budget, value: Decimal) -> str:
    return f"${value:,.2f}" if budget.metric == "cost" else f"{value:,.0f} tokens"


def weigh(standing: Standing, estimate: Estimate, now: datetime) -> BudgetDecision:
    """One budget scope against the estimate."""
    budget, spend, held = standing.budget, standing.spend, standing.held
    state = state_of(budget, spend, now, standing.scope_id)[0]
    amount = estimate.of(budget)
    unblocked = budget.unblocked_until is not None and now < budget.unblocked_until
    refused, reason = False, ""
    if state == "block":
        refused, reason = True, flag_of(budget, standing.scope_id, spend, now, now).reason
    elif (
        budget.hard
        and budget.active
        and not unblocked
        and spend + held + amount > budget.block_point(standing.scope_id)
    ):
        refused = True
        reason = (
            f"an estimated {_amount(budget, amount)} on top of {_amount(budget, spend)} spent"
            f" and {_amount(budget, held)} held would pass the {_amount(budget, budget.limit)} limit"
            f" (+{budget.grace_percent.normalize():f} % grace) of the {describe(budget, standing.scope_id)}"
        )
    elif not budget.hard and spend + amount > budget.limit:
        reason = f"soft budget, warning only: {describe(budget, standing.scope_id)} would be over its limit"
    return BudgetDecision(budget, standing.scope_id, spend, held, state, not refused, reason)


@dataclass(frozen=True)
class Decision:
    budgets: tuple[BudgetDecision, ...]
    estimate: Estimate
    source: Source
    paused: Flag | None = None  # a scope paused by hand refuses whatever the budgets say

    @property
    def allowed(self) -> bool:
        return self.paused is None and all(b.allowed for b in self.budgets)

    @property
    def has_budget(self) -> bool:
        return bool(self.budgets)

    @property
    def tightest(self) -> BudgetDecision | None:
        """A refusing budget first, then the fullest (spend and holds against the limit)."""
        return min(
            self.budgets,
            key=lambda b: (b.allowed, -(b.spend + b.held) / b.budget.limit, b.budget.id, b.scope_id),
            default=None,
        )

    @property
    def reason(self) -> str:
        if self.paused is not None:
            where = self.paused.scope_type + (f" {self.paused.scope_id}" if self.paused.scope_id else "")
            return f"{where} is {self.paused.reason}"
        refused = [b.reason for b in self.budgets if not b.allowed]
        if refused:
            return refused[0]
        return "no budget applies" if not self.budgets else ""

    def to_json(self) -> dict[str, Any]:
        """The decision with the tightest budget's figures at the top level, as the seed shows them."""
        tightest = self.tightest
        figures = {
            k: v
            for k, v in (tightest.to_json() if tightest else {}).items()
            if k not in ("allowed", "reason", "scope_type", "scope_id")
        }
        return {
            "allowed": self.allowed,
            "reason": self.reason,
            "has_budget": self.has_budget,
            "source": self.source,
            "note": SOURCE_NOTES[self.source],
            "estimated_cost": _text(self.estimate.cost),
            "estimated_tokens": _text(self.estimate.tokens),
            **figures,
            "budgets": [b.to_json() for b in self.budgets],
            "paused": self.paused is not None,
        }


def decide(
    standings: list[Standing],
    estimate: Estimate,
    source: Source = "live",
    now: datetime | None = None,
    paused: Flag | None = None,
) -> Decision:
    moment = now or datetime.now(UTC)
    ordered = sorted(standings, key=lambda s: (s.budget.id, s.scope_id))  # the same answer every time
    return Decision(tuple(weigh(s, estimate, moment) for s in ordered), estimate, source, paused)


class BudgetChecker:
    """Where a check's figures come from: the fast path, else what was stored."""

    def __init__(
        self,
        board: FlagBoard,
        live: LiveSpend | None,
        budgets: Callable[[], list[Budget]] = list,
        status: Callable[[], list[ScopeStatus]] = list,
    ) -> None:
        self._board, self._live, self._budgets, self._status = board, live, budgets, status

    def check(self, scopes: list[tuple[str, str]], estimate: Estimate) -> Decision:
        paused = self._board.pause_of(scopes)
        if self._live is not None:
            return decide(self._live.standings(scopes), estimate, "live", paused=paused)
        return decide(self._known(scopes), estimate, "snapshot", paused=paused)

    def _known(self, scopes: list[tuple[str, str]]) -> list[Standing]:
        budgets = window_budgets(self._budgets())  # what the evaluator (and the fast path) watches
        explicit = explicit_scopes(budgets)
        spend = {(s.budget_id, s.scope_id): s.spend for s in self._status()}
        flagged = {(f.budget_id, f.scope_id): f.spend for f in self._board.flags()}
        found = []
        for budget in budgets:
            excluded = own_budget_ids(budget, explicit)
            for scope_type, scope_id in set(scopes) | {(GLOBAL, "")}:
                if covers(budget, excluded, scope_type, scope_id):
                    key = (budget.id, scope_id)
                    found.append(Standing(budget, scope_id, spend.get(key, flagged.get(key, Decimal(0)))))
        return found
