"""Budget evaluation: the spend of every budget window in one query, turned into flags.

:func:`evaluate` is the pure part: budgets and ClickHouse in, one
:class:`Evaluation` per budget scope out. :class:`BudgetEvaluator` runs it
every ``evaluate_every`` seconds (inside the collector, or alone as
``spendgate evaluator``), publishes the flags, hands the evaluations to the
fast path so it can count from there, and raises alerts.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

from spendgate.collector.budgets.board import FlagBoard
from spendgate.collector.budgets.model import (
    Budget,
    Evaluation,
    epoch_micros,
    explicit_scopes,
    flag_of,
    period_window,
    state_of,
)
from spendgate.collector.tables import Columns, RecordReader

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _WindowSpend:
    """What one budget window (or, for a default budget, one of its scopes) spent."""

    budget_id: str
    scope_id: str
    cost: Decimal
    tokens: int
    calls: int  # every recorded call
    blocked_calls: int  # of them, the ones the agent's guard refused: never sent


_SPEND = Columns(_WindowSpend)


def window_budgets(budgets: list[Budget]) -> list[Budget]:
    """The budgets the evaluator watches: active and with a time window."""
    return [b for b in budgets if b.active and not b.agent_enforced and not b.slot_limited]


def agent_limits(budgets: list[Budget]) -> tuple[Budget, ...]:
    """The active budgets agents enforce themselves: per request, per run, and rate limits (which
    the evaluator watches fleet-wide too; each agent also counts its own calls between flags)."""
    return tuple(b for b in budgets if b.active and (b.agent_enforced or b.rate_limit))


def _metric(budget: Budget, spent: _WindowSpend) -> Decimal:
    """What a budget counts: USD, tokens, or the calls sent to a provider (not those refused)."""
    if budget.metric == "cost":
        return spent.cost
    return Decimal(spent.tokens if budget.metric == "tokens" else spent.calls - spent.blocked_calls)


def recheck_after(evaluations: list[Evaluation], every: float) -> float:
    """Seconds until the next evaluation: ``every``, or sooner while a rolling window is not ok,
    so its flag lifts soon after the oldest spend ages out, not at the next tick."""
    wait = every
    for evaluation in evaluations:
        recheck = evaluation.budget.recheck_every
        if recheck is not None and evaluation.state != "ok":
            wait = min(wait, recheck)
    return wait


def evaluate(storage: RecordReader, budgets: list[Budget], now: datetime) -> list[Evaluation]:
    """Evaluate the active window budgets against the stored spend at ``now``."""
    active = window_budgets(budgets)
    if not active:
        return []
    windows = [period_window(budget, now) for budget in active]
    rows = storage.records(
        _SPEND,
        "budgets/spend_in_windows.sql",
        {
            "budget_ids": [budget.id for budget in active],
            "scope_types": [budget.scope_type for budget in active],
            "scope_ids": [budget.scope_id for budget in active],
            "starts_us": [epoch_micros(start) for start, _ in windows],
            "ends_us": [epoch_micros(end) for _, end in windows],
        },
    )
    spent: dict[str, dict[str, _WindowSpend]] = {}
    for row in rows:
        spent.setdefault(row.budget_id, {})[row.scope_id] = row
    explicit = explicit_scopes(budgets)
    evaluations = []
    for budget, (start, end) in zip(active, windows, strict=True):
        by_scope = spent.get(budget.id, {})
        if budget.is_default:
            scopes = [
                scope_id
                for scope_id in by_scope
                if (budget.scope_type, scope_id, budget.period, budget.metric) not in explicit
            ]
        else:
            scopes = [budget.scope_id]
        for scope_id in scopes:
            row = by_scope.get(scope_id) or _WindowSpend(budget.id, scope_id, Decimal(0), 0, 0, 0)
            spend = _metric(budget, row)
            state, utilization = state_of(budget, spend, now, scope_id)
            evaluations.append(Evaluation(budget, scope_id, start, end, spend, row.calls, state, utilization))
    return evaluations


class LiveCounter(Protocol):
    """Counts spend from each evaluation until the next, and publishes the flags (the fast path)."""

    def reset(
        self, evaluations: list[Evaluation], budgets: list[Budget], now: datetime, limits: tuple[Budget, ...]
    ) -> None: ...


class EvaluationObserver(Protocol):
    """Told of every evaluation (alerts, status snapshots)."""

    def observe(self, evaluations: list[Evaluation], now: datetime) -> object: ...


class RunMeter(Protocol):
    """Told of every evaluation and its time (collector/telemetry.py)."""

    def evaluated(self, evaluations: list[Evaluation], seconds: float) -> None: ...
    def evaluation_failed(self, seconds: float) -> None: ...


class BudgetEvaluator:
    """Evaluate periodically and publish flags; the fast path and alerts hook in here."""

    def __init__(
        self,
        storage: RecordReader,
        list_budgets: Callable[[], list[Budget]],
        board: FlagBoard,
        every: float,
        live: LiveCounter | None = None,
        alerts: EvaluationObserver | None = None,
        status: EvaluationObserver | None = None,
        quiesce: AbstractContextManager[object] | None = None,  # held: no insert completes
    ) -> None:
        self._storage = storage
        self._list_budgets = list_budgets
        self._board = board
        self._every = every
        self._live = live
        self._alerts = alerts
        self._status = status
        self._quiesce = quiesce if quiesce is not None else contextlib.nullcontext()
        self._wake = threading.Event()
        self._schedule = threading.Condition()  # guards _due; notified on wake() and recheck_in()
        self._due = math.inf  # monotonic time of the next evaluation; recheck_in() brings it forward
        self._run_lock = threading.Lock()
        self._done = threading.Condition()
        self._started = 0
        self._finished = 0
        self.last_run: datetime | None = None
        self.last_error: str | None = None
        self.runs = 0
        self.meter: RunMeter | None = None

    def run_once(self, now: datetime | None = None) -> list[Evaluation]:
        with self._run_lock:  # one evaluation at a time: an older one must not publish last
            with self._done:
                self._started += 1
            started = time.perf_counter()
            try:
                evaluations = self._run(now)
            except Exception:
                if (meter := self.meter) is not None:
                    meter.evaluation_failed(time.perf_counter() - started)
                raise
            else:
                if (meter := self.meter) is not None:
                    meter.evaluated(evaluations, time.perf_counter() - started)
                return evaluations
            finally:
                with self._done:
                    self._finished = self._started
                    self._done.notify_all()

    def _run(self, now: datetime | None) -> list[Evaluation]:
        now = now or datetime.now(UTC)
        budgets = self._list_budgets()
        limits = agent_limits(budgets)
        # While the spend is read, no insert completes: every stored span is either in
        # the result or counted by the fast path afterwards, never both or neither.
        with self._quiesce:
            evaluations = evaluate(self._storage, budgets, now)
            if self._live is not None:
                self._live.reset(evaluations, window_budgets(budgets), now, limits)
        if self._live is None:
            flags = [flag_of(e.budget, e.scope_id, e.spend, e.window_end, now) for e in evaluations]
            self._board.update(flags, replace_all=True, limits=limits)
        if self._alerts is not None:
            self._alerts.observe(evaluations, now)
        if self._status is not None:
            self._status.observe(evaluations, now)
        self.last_run = now
        self.last_error = None
        self.runs += 1
        return evaluations

    def wake(self, wait: float = 0.0) -> bool:
        """Evaluate now rather than at the next tick (after a budget changed); with ``wait``,
        return once an evaluation that started after this call has finished (True) or at the timeout."""
        with self._done:
            target = self._started + 1
        self._wake.set()
        with self._schedule:
            self._schedule.notify_all()
        if not wait:
            return True
        with self._done:
            return self._done.wait_for(lambda: self._finished >= target, wait)

    def run_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            wait = self._every
            try:
                wait = recheck_after(self.run_once(), self._every)
            except Exception as exc:  # ClickHouse away: keep the last flags, try again
                self.last_error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                log.warning("budget evaluation failed: %s", self.last_error)
            self._sleep(wait)

    def _sleep(self, wait: float) -> None:
        with self._schedule:
            self._due = min(self._due, time.monotonic() + wait)  # a recheck asked for during the run
            while not self._wake.is_set() and (left := self._due - time.monotonic()) > 0:
                self._schedule.wait(left)
            self._due = math.inf
        self._wake.clear()

    def recheck_in(self, seconds: float) -> None:
        """Evaluate again within ``seconds`` (the fast path flagged a rolling window)."""
        with self._schedule:
            due = time.monotonic() + seconds
            if due < self._due:
                self._due = due
                self._schedule.notify_all()
