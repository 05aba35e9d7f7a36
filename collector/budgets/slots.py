"""Concurrency slots: at most ``limit`` runs of a scope at once, the rest queued in arrival order.

A ``concurrent`` budget (metric ``runs``) of a scope has ``limit`` slots; a
default one (scope id ``*``) has that many for every id without a budget of its
own. A run (``spendgate.run()`` in the agent) asks for a slot of every
concurrent budget that applies to its scopes and gets them all at once or
waits; nothing is held while it waits, so two runs cannot deadlock. Waiters are
served in arrival order per pool: a run never takes a slot an earlier waiter
needs too, but may start ahead of waiters of other scopes whose pools are full.

A granted run holds a lease that its agent heartbeats; a lease not heartbeaten
for ``ttl`` seconds (the agent died) is freed, and every freed slot goes to the
head of its queue at once. Slots live in this process's memory: after a
restart, agents whose heartbeat finds no lease re-register (``resume``, granted
at once), and for the first ``ttl`` seconds new runs wait, so that the runs
still going are counted before any new one starts.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from spendgate.collector.budgets.model import Budget, explicit_scopes

Scope = tuple[str, str]  # (scope type, scope id); global has id ""
SlotKey = tuple[str, str]  # (budget id, scope id): one pool of slots


def slot_limits(budgets: list[Budget], scopes: list[Scope]) -> dict[SlotKey, int]:
    """The slot pools a run in these scopes needs (global always applies), with their sizes."""
    wanted = set(scopes) | {("global", "")}
    explicit = explicit_scopes(budgets)
    pools: dict[SlotKey, int] = {}
    for budget in budgets:
        if not (budget.active and budget.slot_limited):
            continue
        for scope_type, scope_id in wanted:
            if scope_type != budget.scope_type:
                continue
            if budget.scope_id == scope_id or (
                budget.is_default
                and scope_id
                and (scope_type, scope_id, budget.period, budget.metric) not in explicit
            ):
                pools[(budget.id, scope_id)] = int(budget.limit)
    return pools


@dataclass
class Lease:
    id: str
    run_id: str
    holder: str
    keys: tuple[SlotKey, ...]
    granted_at: datetime
    expires: float  # monotonic
    heartbeat_at: datetime


@dataclass(eq=False)
class Waiter:
    """One run's request for slots; ``notify`` is called (outside the lock) when it is granted."""

    run_id: str
    holder: str
    scopes: list[Scope]
    notify: Callable[[], None]
    since: float  # monotonic
    queued_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    granted: bool = False
    lease: Lease | None = None  # None when granted: no concurrent budget applied
    keys: tuple[SlotKey, ...] = ()  # the pools it waits for (as last computed)


class SlotManager:
    def __init__(
        self,
        budgets: Callable[[], list[Budget]],
        ttl: float = 15.0,
        recovery: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._budgets = budgets
        self.ttl = ttl
        self._clock = clock
        self._admit_after = clock() + (ttl if recovery is None else recovery)
        self._lock = threading.Lock()
        self._leases: dict[str, Lease] = {}
        self._held: dict[SlotKey, int] = {}
        self._queue: list[Waiter] = []  # arrival order
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.granted_total = 0
        self.expired_total = 0

    # -- requests -------------------------------------------------------------------------------------
    def request(
        self, scopes: list[Scope], run_id: str, holder: str, notify: Callable[[], None], resume: bool = False
    ) -> Waiter:
        """A run asks for its slots: granted at once (``waiter.granted``) or queued behind earlier runs."""
        budgets = self._budgets()
        waiter = Waiter(run_id, holder, scopes, notify, self._clock())
        granted: list[Waiter] = []
        with self._lock:
            pools = slot_limits(budgets, scopes)
            waiter.keys = tuple(sorted(pools))
            if not pools:
                waiter.granted = True
            elif resume:
                self._grant(waiter)  # already running: counted, never queued
            else:
                self._queue.append(waiter)
                granted = self._dispatch(budgets)
        for other in granted:
            if other is not waiter:
                other.notify()
        return waiter

    def withdraw(self, waiter: Waiter) -> bool:
        """Take a waiter out of the queue (timeout, cancelled call); True if it had been granted."""
        with self._lock:
            if waiter.granted:
                return True
            if waiter in self._queue:
                self._queue.remove(waiter)
        self._wake.set()  # runs it held back may go now
        return False

    def position(self, waiter: Waiter) -> int:
        """1 + the waiters ahead of it that want one of its slots; 0 when not queued."""
        with self._lock:
            if waiter not in self._queue:
                return 0
            ahead = self._queue[: self._queue.index(waiter)]
            mine = set(waiter.keys)
            return 1 + sum(1 for other in ahead if mine & set(other.keys))

    def heartbeat(self, lease_id: str) -> bool:
        with self._lock:
            lease = self._leases.get(lease_id)
            if lease is None:
                return False
            lease.expires = self._clock() + self.ttl
            lease.heartbeat_at = datetime.now(UTC)
            return True

    def release(self, lease_id: str) -> bool:
        with self._lock:
            lease = self._leases.pop(lease_id, None)
            if lease is None:
                return False
            self._free(lease)
        self._hand_over()
        return True

    # -- inside the lock ------------------------------------------------------------------------------
    def _grant(self, waiter: Waiter) -> None:
        now = datetime.now(UTC)
        lease = Lease(
            uuid.uuid4().hex, waiter.run_id, waiter.holder, waiter.keys, now, self._clock() + self.ttl, now
        )
        for key in lease.keys:
            self._held[key] = self._held.get(key, 0) + 1
        self._leases[lease.id] = lease
        waiter.lease, waiter.granted = lease, True
        self.granted_total += 1

    def _free(self, lease: Lease) -> None:
        for key in lease.keys:
            left = self._held.get(key, 0) - 1
            if left > 0:
                self._held[key] = left
            else:
                self._held.pop(key, None)

    def _dispatch(self, budgets: list[Budget]) -> list[Waiter]:
        """Grant the waiters whose slots are free, in arrival order; returns them.

        A waiter that cannot start yet keeps one slot of each of its pools that has room (not held,
        only kept from later waiters), so a later run never takes a slot an earlier one waits for.
        """
        if not self._queue:
            return []
        admitting = self._clock() >= self._admit_after
        kept: dict[SlotKey, int] = {}
        granted: list[Waiter] = []
        for waiter in list(self._queue):
            pools = slot_limits(budgets, waiter.scopes)  # budgets may have changed while it waited
            waiter.keys = tuple(sorted(pools))
            room = {key: self._held.get(key, 0) + kept.get(key, 0) < size for key, size in pools.items()}
            if not pools or (admitting and all(room.values())):
                self._queue.remove(waiter)
                if pools:
                    self._grant(waiter)
                else:
                    waiter.granted = True
                granted.append(waiter)
            else:
                for key in (key for key, free in room.items() if free):
                    kept[key] = kept.get(key, 0) + 1
        return granted

    # -- hand-over and expiry -------------------------------------------------------------------------
    def _hand_over(self) -> None:
        """Give freed slots to the waiters at the head of their queues, and tell them."""
        budgets = self._budgets()
        with self._lock:
            granted = self._dispatch(budgets)
        for waiter in granted:
            waiter.notify()

    def expire(self) -> int:
        """Free the leases whose heartbeat stopped; returns how many."""
        now = self._clock()
        with self._lock:
            dead = [lease for lease in self._leases.values() if lease.expires <= now]
            for lease in dead:
                del self._leases[lease.id]
                self._free(lease)
            self.expired_total += len(dead)
        return len(dead)

    def _next_deadline(self) -> float:
        with self._lock:
            deadlines = [lease.expires for lease in self._leases.values()]
            if self._queue and self._clock() < self._admit_after:
                deadlines.append(self._admit_after)
        return min(deadlines, default=float("inf"))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.expire()
            self._hand_over()  # also picks up changed budgets (a raised or removed limit)
            wait = min(1.0, max(self._next_deadline() - self._clock(), 0.0) + 0.01)
            self._wake.wait(wait)
            self._wake.clear()

    def poke(self) -> None:
        """Look at the queue now (a budget changed: a raised or removed limit frees waiters)."""
        self._wake.set()

    def start(self) -> SlotManager:
        self._thread = threading.Thread(target=self._run, name="spendgate-slots", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)

    # -- for operators --------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Holders and queues, as GET /api/v1/runs/slots shows them."""
        now = self._clock()
        with self._lock:
            holders = [
                {
                    "lease_id": lease.id,
                    "run_id": lease.run_id,
                    "holder": lease.holder,
                    "slots": [_key_json(key) for key in lease.keys],
                    "granted_at": lease.granted_at.isoformat(),
                    "heartbeat_at": lease.heartbeat_at.isoformat(),
                    "expires_in_seconds": round(max(lease.expires - now, 0.0), 3),
                }
                for lease in self._leases.values()
            ]
            queue = [
                {
                    "run_id": waiter.run_id,
                    "holder": waiter.holder,
                    "slots": [_key_json(key) for key in waiter.keys],
                    "queued_at": waiter.queued_at.isoformat(),
                    "waiting_seconds": round(now - waiter.since, 3),
                }
                for waiter in self._queue
            ]
            held = [_key_json(key) | {"held": count} for key, count in sorted(self._held.items())]
        limits = {budget.id: int(budget.limit) for budget in self._budgets() if budget.slot_limited}
        for pool in held:
            pool["limit"] = limits.get(str(pool["budget_id"]))
        return {"lease_ttl_seconds": self.ttl, "held": held, "holders": holders, "queue": queue}


def _key_json(key: SlotKey) -> dict[str, Any]:
    return {"budget_id": key[0], "scope_id": key[1]}
