"""The fast path between evaluations, and strict-mode reservations.

After each evaluation the collector knows every budget scope's spend as
stored in ClickHouse. Each block of new spans is added here as soon as the
writer queues it, before its insert, so a scope that crosses its limit is
flagged within milliseconds of the crossing span's arrival. A block whose
insert fails is taken back out (its exporter will retry). The next evaluation
replaces these counts with the stored truth plus the blocks still queued; it
reads while inserts are held, so nothing is counted twice or missed.

Strict mode: an agent reserves a call's worst-case cost before sending it.
A reservation is granted only if every hard budget of the call's scopes has
room for it on top of the spend and of the other reservations held. The
agent settles the actual cost after the call; the amount stays held until the
call's span (which carries the reservation id) is stored and counted here.
Unsettled reservations expire.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc
from spendgate.collector.budgets.board import Flag, FlagBoard, Key
from spendgate.collector.budgets.model import (
    Budget,
    Evaluation,
    epoch_micros,
    explicit_scopes,
    flag_of,
    own_budget_ids,
    period_window,
    state_of,
)

from spendgate.dimensions import SCOPE_COLUMNS


@dataclass
class _Window:
    budget: Budget
    start_us: int
    end_us: int
    end: datetime
    spend: dict[str, Decimal] = field(default_factory=dict)  # scope id -> spend, evaluated plus counted since
    states: dict[str, str] = field(default_factory=dict)  # scope id -> the state last published
    excluded: frozenset[str] = frozenset()  # ids with a budget of their own (default budgets only)


@dataclass
class _Reservation:
    keys: list[Key]
    amount: Decimal  # held: the estimate, then the actual cost once settled
    expires: float
    counted_in: int | None = None  # the queued block that carries its span: held no more


@dataclass(frozen=True)
class ReserveResult:
    granted: bool
    reservation_id: str = ""
    reason: str = ""
    blocking: Flag | None = None


@dataclass(frozen=True)
class Standing:
    """One budget scope as it stands now: what the pre-flight check weighs an estimate against."""

    budget: Budget
    scope_id: str
    spend: Decimal  # evaluated plus counted since (USD, or tokens)
    held: Decimal = Decimal(0)  # reserved by strict-mode calls in flight

    @property
    def block_point(self) -> Decimal:
        return self.budget.block_point(self.scope_id)


def covers(budget: Budget, excluded: frozenset[str], scope_type: str, scope_id: str) -> bool:
    """Whether this budget applies to the scope: its own, or a default for an id without its own."""
    if scope_type != budget.scope_type:
        return False
    return budget.scope_id == scope_id or (budget.is_default and bool(scope_id) and scope_id not in excluded)


_OPEN_END = 2**62
_SENT = "sent_calls"
INFRASTRUCTURE = "infrastructure"  # the operation of a fixed-cost row (ingest/fixed_costs.py, migration 0023)
# The llm_spans columns each metric adds up; calls add up _sent_calls.
_METRIC_COLUMNS = {"cost": ["total_cost"], "tokens": ["input_tokens", "output_tokens"], "calls": [_SENT]}


def _sent_calls(block: pa.Table) -> pa.Array:
    """1 for each call sent to a provider, 0 for one the agent's guard refused (recorded with
    error_type BudgetExceeded and no usage) and for a fixed-cost row (operation infrastructure),
    as migration 0027 and the evaluator's SQL count them."""
    unused = pc.equal(pc.add(block.column("input_tokens"), block.column("output_tokens")), 0)
    refused = pc.and_kleene(pc.equal(block.column("error_type"), "BudgetExceeded"), unused)
    fixed = pc.equal(block.column("operation"), INFRASTRUCTURE)
    return pc.cast(pc.invert(pc.fill_null(pc.or_kleene(refused, fixed), False)), pa.int64())


class LiveSpend:
    def __init__(self, board: FlagBoard, reservation_ttl: float = 120.0) -> None:
        self._board = board
        self._ttl = reservation_ttl
        self._lock = threading.Lock()
        self._windows: list[_Window] = []
        self._reservations: dict[str, _Reservation] = {}
        self._queued: dict[int, pa.Table] = {}  # blocks counted here but not stored yet
        # Told when a rolling window's flag leaves ok: the evaluator sees it lift as the window slides.
        self.recheck: Callable[[float], None] | None = None
        self.stats = {"blocks_counted": 0, "flag_changes": 0, "reservations": 0, "refused": 0}

    # -- evaluation and stored spans ---------------------------------------------------------------
    def reset(
        self,
        evaluations: list[Evaluation],
        budgets: list[Budget],
        now: datetime,
        limits: tuple[Budget, ...] = (),
    ) -> None:
        """Start counting from an evaluation (called while inserts are held) and publish every
        scope's flag: the evaluation plus the blocks queued but not stored yet."""
        explicit = explicit_scopes(budgets)
        by_budget: dict[str, list[Evaluation]] = {}
        for evaluation in evaluations:
            by_budget.setdefault(evaluation.budget.id, []).append(evaluation)
        windows = []
        for budget in budgets:
            start, end = period_window(budget, now)
            # A rolling window moves with the clock: new spans are always inside it.
            end_us = _OPEN_END if budget.period == "rolling" else epoch_micros(end)
            window = _Window(budget, epoch_micros(start), end_us, end)
            for evaluation in by_budget.get(budget.id, []):
                window.spend[evaluation.scope_id] = evaluation.spend
            if budget.is_default:
                window.excluded = own_budget_ids(budget, explicit)
            elif budget.scope_id not in window.spend:
                window.spend[budget.scope_id] = Decimal(0)
            windows.append(window)
        with self._lock:
            self._windows = windows
            for block in self._queued.values():  # not stored yet, so not in the evaluation
                self._add(block, 1)
            flags = []
            for window in windows:
                for scope_id, spend in window.spend.items():
                    flag = flag_of(window.budget, scope_id, spend, window.end, now)
                    window.states[scope_id] = flag.state
                    flags.append(flag)
            # Published under the lock, so a fast-path change cannot be overtaken by an older one.
            self._board.update(flags, replace_all=True, limits=limits)

    # -- the writer's blocks (BlockObserver) ------------------------------------------------------
    def queued(self, seq: int, block: pa.Table) -> None:
        with self._lock:
            if self._reservations:
                self._count_reserved(block, seq)
            self._queued[seq] = block
            self._publish(self._add(block, 1))
            self.stats["blocks_counted"] += 1

    def stored(self, seqs: list[int]) -> None:
        with self._lock:
            done = set(seqs)
            for seq in seqs:
                self._queued.pop(seq, None)
            for reservation_id in [k for k, r in self._reservations.items() if r.counted_in in done]:
                del self._reservations[reservation_id]

    def failed(self, seqs: list[int]) -> None:
        with self._lock:
            undone = set(seqs)
            for reservation in self._reservations.values():
                if reservation.counted_in in undone:
                    reservation.counted_in = None  # held again until the exporter's retry arrives
            flags = []
            for seq in seqs:
                block = self._queued.pop(seq, None)
                if block is not None:
                    flags.extend(self._add(block, -1))
            self._publish(flags)

    def _publish(self, flags: list[Flag]) -> None:
        # Called under self._lock: changes reach the board in the order they were computed.
        if flags:
            self.stats["flag_changes"] += len(self._board.update(flags))

    def _add(self, block: pa.Table, sign: int) -> list[Flag]:
        if block.num_rows == 0 or not self._windows:
            return []
        starts = pc.cast(block.column("start_time"), pa.int64())
        first, last = pc.min_max(starts).values()
        first_us, last_us = first.as_py(), last.as_py()
        now = datetime.now(UTC)
        flags = []
        for window in self._windows:
            length = window.budget.window
            if length is not None:  # it slides on: a late span older than the window now is not in it
                window.start_us = max(window.start_us, epoch_micros(now - length))
            if first_us >= window.start_us and last_us < window.end_us:
                in_window = None  # the usual case: the whole block is in the current period
            elif last_us < window.start_us or first_us >= window.end_us:
                continue
            else:
                in_window = pc.and_(pc.greater_equal(starts, window.start_us), pc.less(starts, window.end_us))
            for scope_id, amount in self._amounts(window, block, in_window):
                total = window.spend.get(scope_id, Decimal(0)) + sign * amount
                window.spend[scope_id] = total
                state = state_of(window.budget, total, now, scope_id)[0]
                if state != window.states.get(scope_id, "ok"):
                    # Only state changes are news; spend figures are refreshed at each evaluation.
                    window.states[scope_id] = state
                    flags.append(flag_of(window.budget, scope_id, total, window.end, now))
                    recheck = window.budget.recheck_every
                    if recheck is not None and state != "ok" and self.recheck is not None:
                        self.recheck(recheck)
        return flags

    @staticmethod
    def _amounts(window: _Window, block: pa.Table, in_window: pa.Array | None) -> list[tuple[str, Decimal]]:
        budget = window.budget
        column = SCOPE_COLUMNS.get(budget.scope_type)
        values = _METRIC_COLUMNS[budget.metric]
        if budget.metric == "calls":
            rows = block.select([column] if column else []).append_column(_SENT, _sent_calls(block))
        else:
            rows = block.select(([column] if column else []) + values)  # filter a few columns, not all
        if in_window is not None:
            rows = rows.filter(in_window)
        if budget.scope_type != "global" and not budget.is_default and column is not None:
            rows = rows.filter(pc.equal(rows.column(column), budget.scope_id))
        if rows.num_rows == 0:
            return []
        if not budget.is_default or column is None:
            sums = [pc.sum(rows.column(name)).as_py() or 0 for name in values]
            return [(budget.scope_id, Decimal(sum(sums)))]
        grouped = rows.group_by(column).aggregate([(name, "sum") for name in values]).to_pylist()
        found = []
        for row in grouped:
            scope_id = row[column]
            if not scope_id or scope_id in window.excluded:
                continue
            found.append((scope_id, Decimal(sum(row[f"{name}_sum"] or 0 for name in values))))
        return found

    def _count_reserved(self, block: pa.Table, seq: int) -> None:
        if "reservation_id" not in block.column_names:
            return
        ids = set(block.column("reservation_id").to_pylist()) - {""}
        for reservation_id in ids & self._reservations.keys():
            # The call's cost is counted from now on: stop holding it (dropped once stored).
            self._reservations[reservation_id].counted_in = seq

    # -- strict mode ------------------------------------------------------------------------------
    def _matching(self, scopes: list[tuple[str, str]], hard_only: bool = True) -> list[tuple[_Window, str]]:
        wanted = set(scopes) | {("global", "")}
        return [
            (window, scope_id)
            for window in self._windows
            if window.budget.hard or not hard_only
            for scope_type, scope_id in wanted
            if covers(window.budget, window.excluded, scope_type, scope_id)
        ]

    def standings(self, scopes: list[tuple[str, str]]) -> list[Standing]:
        """Every budget (hard and soft) that applies to these scopes, with its spend and holds now."""
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            return [
                Standing(
                    window.budget,
                    scope_id,
                    window.spend.get(scope_id, Decimal(0)),
                    self._held((window.budget.id, scope_id), now),
                )
                for window, scope_id in self._matching(scopes, hard_only=False)
            ]

    def _held(self, key: Key, now: float) -> Decimal:
        return sum(
            (
                r.amount
                for r in self._reservations.values()
                if r.counted_in is None and key in r.keys and r.expires > now
            ),
            Decimal(0),
        )

    def reserve(self, scopes: list[tuple[str, str]], amount: Decimal) -> ReserveResult:
        """Hold ``amount`` against every hard budget of these scopes, if all have room."""
        now = time.monotonic()
        moment = datetime.now(UTC)
        with self._lock:
            paused = self._board.pause_of(scopes)
            if paused is not None:  # a paused scope has no room at any spend
                self.stats["refused"] += 1
                return ReserveResult(False, reason=paused.reason, blocking=paused)
            self._expire(now)
            matching = self._matching(scopes)
            for window, scope_id in matching:
                budget = window.budget
                spent = window.spend.get(scope_id, Decimal(0))
                held = self._held((budget.id, scope_id), now)
                if budget.unblocked_until is not None and moment < budget.unblocked_until:
                    continue
                if spent + held + amount > budget.block_point(scope_id):
                    self.stats["refused"] += 1
                    flag = flag_of(budget, scope_id, spent, window.end, moment)
                    return ReserveResult(
                        False,
                        reason=(
                            f"reserving ${amount} would exceed {flag.reason.removeprefix('blocked: ')}"
                            f" with ${held} held by calls in flight"
                        ),
                        blocking=flag,
                    )
            reservation_id = uuid.uuid4().hex
            self._reservations[reservation_id] = _Reservation(
                [(window.budget.id, scope_id) for window, scope_id in matching], amount, now + self._ttl
            )
            self.stats["reservations"] += 1
        return ReserveResult(True, reservation_id)

    def settle(self, reservation_id: str, actual_cost: Decimal) -> bool:
        """Replace a reservation's estimate with the actual cost until its span is stored."""
        with self._lock:
            reservation = self._reservations.get(reservation_id)
            if reservation is None:
                return False  # its span was stored already, or it expired
            reservation.amount = actual_cost
            reservation.expires = time.monotonic() + self._ttl
            return True

    def _expire(self, now: float) -> None:
        for reservation_id in [k for k, r in self._reservations.items() if r.expires <= now]:
            del self._reservations[reservation_id]

    @property
    def reservations_held(self) -> int:
        return len(self._reservations)
