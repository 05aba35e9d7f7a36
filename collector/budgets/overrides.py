"""Override requests: more room in a hard budget's current period, asked for and decided.

A blocked agent (or a user) asks for ``amount`` more (USD or tokens, the budget's metric) with a
reason; an admin approves it (possibly for another amount) or denies it. Every state change is a
new version of the request in ``budget_override_requests``: the versions are the audit trail.

An approved request is an allowance: its scope blocks at ``limit + grace + granted`` until the end
of the period the approval fell in (for a rolling window: ``rolling_hours`` after the approval), or
until the budget is reset. The budget itself, and so its later periods, are not changed.
:func:`with_overrides` merges the allowances, and the pending requests agents are told of, into
the budgets the evaluator and the fast path work with.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal

from spendgate.collector.budgets.model import Budget, period_window, utc
from spendgate.collector.tables import Records, Table

from spendgate.money import money_text

Status = Literal["pending", "approved", "denied"]


@dataclass(frozen=True)
class OverrideRequest:
    """One version of an override request, as the table holds it."""

    id: str
    version: int
    budget_id: str
    scope_id: str  # the budget's own, or one id of a default (``*``) budget
    amount: Decimal  # asked for
    reason: str
    requested_by: str
    status: Status
    granted: Decimal  # approved: the extra room for the period
    valid_until: datetime | None  # approved: the end of that period
    decided_by: str
    decided_at: datetime | None
    note: str
    changed_at: datetime

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "version": self.version,
            "budget_id": self.budget_id,
            "scope_id": self.scope_id,
            "amount": money_text(self.amount),
            "reason": self.reason,
            "requested_by": self.requested_by,
            "status": self.status,
            "granted": money_text(self.granted) if self.status == "approved" else None,
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "decided_by": self.decided_by or None,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "note": self.note,
            "changed_at": self.changed_at.isoformat(),
        }

    def applies(self, budget: Budget, now: datetime) -> bool:
        """An approved request's allowance holds now: in its period, and no reset since."""
        if self.status != "approved" or self.valid_until is None or self.decided_at is None:
            return False
        reset_since = budget.reset_at is not None and utc(budget.reset_at) > self.decided_at
        return utc(now) < self.valid_until and not reset_since


OVERRIDES = Table("budget_override_requests", OverrideRequest)


class RequestNotFound(KeyError):
    """No override request with that id."""


class AlreadyDecided(ValueError):
    """The request was approved or denied before."""


class NotOverridable(ValueError):
    """The budget cannot take an override request (soft, enforced by the agent, or no scope)."""


def period_end(budget: Budget, now: datetime) -> datetime:
    """When an allowance approved at ``now`` ends: with the budget's current period."""
    if budget.period == "rolling":
        assert budget.rolling_hours is not None
        return utc(now) + timedelta(hours=budget.rolling_hours)
    return period_window(budget, now)[1]


def request_scope(budget: Budget, scope_id: str | None) -> str:
    """The budget scope a request is for; NotOverridable says what is wrong."""
    if not budget.hard:
        raise NotOverridable(f"budget {budget.id} is soft: it warns and never blocks, so needs no override")
    if budget.agent_enforced:
        raise NotOverridable(
            f"budget {budget.id} is per-{budget.period}, enforced by the agent: change its limit instead"
        )
    if budget.is_default:
        if not scope_id or scope_id == "*":
            raise NotOverridable(
                f"budget {budget.id} is a default for every {budget.scope_type}: "
                "give the scope_id to override"
            )
        return scope_id
    if scope_id and scope_id != budget.scope_id:
        raise NotOverridable(
            f"budget {budget.id} is for {budget.scope_type} {budget.scope_id!r}, not {scope_id!r}"
        )
    return budget.scope_id


class OverrideStore:
    def __init__(self, storage: Records) -> None:
        self._storage = storage
        self._lock = threading.Lock()  # one decision per request in this process
        self._cache: tuple[float, list[OverrideRequest]] | None = None

    def all(self, max_age: float = 0.0) -> list[OverrideRequest]:
        """The newest version of every request; ``max_age`` seconds of caching."""
        cached = self._cache
        if cached is not None and time.monotonic() - cached[0] <= max_age:
            return cached[1]
        requests = self._storage.records(OVERRIDES, "budgets/override_requests.sql")
        self._cache = (time.monotonic(), requests)
        return requests

    def get(self, request_id: str) -> OverrideRequest:
        for request in self.all():
            if request.id == request_id:
                return request
        raise RequestNotFound(request_id)

    def history(self, request_id: str) -> list[OverrideRequest]:
        return self._storage.records(OVERRIDES, "budgets/override_request_history.sql", {"id": request_id})

    def _write(self, request: OverrideRequest) -> OverrideRequest:
        self._storage.insert(OVERRIDES, [request])
        self._cache = None
        return request

    def create(
        self, budget: Budget, scope_id: str | None, amount: Decimal, reason: str, requested_by: str
    ) -> OverrideRequest:
        scope = request_scope(budget, scope_id)
        now = datetime.now(UTC)
        request = OverrideRequest(
            id=uuid.uuid4().hex[:16],
            version=1,
            budget_id=budget.id,
            scope_id=scope,
            amount=amount,
            reason=reason,
            requested_by=requested_by,
            status="pending",
            granted=Decimal(0),
            valid_until=None,
            decided_by="",
            decided_at=None,
            note="",
            changed_at=now,
        )
        with self._lock:
            return self._write(request)

    def decide(
        self, request_id: str, budget: Budget | None, by: str, note: str, granted: Decimal | None = None
    ) -> OverrideRequest:
        """Approve (with the budget, and the amount to grant: the asked one by default) or deny
        (``budget`` None); AlreadyDecided when it was decided before."""
        with self._lock:
            current = self.get(request_id)
            if current.status != "pending":
                raise AlreadyDecided(f"override request {request_id} was {current.status} already")
            now = datetime.now(UTC)
            decided = replace(
                current, version=current.version + 1, decided_by=by, decided_at=now, note=note, changed_at=now
            )
            if budget is None:
                return self._write(replace(decided, status="denied"))
            amount = current.amount if granted is None else granted
            until = period_end(budget, now)
            return self._write(replace(decided, status="approved", granted=amount, valid_until=until))


def with_overrides(budgets: list[Budget], requests: list[OverrideRequest], now: datetime) -> list[Budget]:
    """The budgets with the allowances that hold now and the pending requests merged in."""
    by_id = {budget.id: budget for budget in budgets}
    allowances: dict[str, dict[str, Decimal]] = {}
    pending: dict[str, dict[str, str]] = {}
    for request in requests:
        budget = by_id.get(request.budget_id)
        if budget is None:
            continue
        if request.status == "pending":
            pending.setdefault(budget.id, {})[request.scope_id] = request.id
        elif request.applies(budget, now):
            scopes = allowances.setdefault(budget.id, {})
            scopes[request.scope_id] = scopes.get(request.scope_id, Decimal(0)) + request.granted
    if not allowances and not pending:
        return budgets
    return [
        budget.with_overrides(allowances.get(budget.id, {}), pending.get(budget.id, {}))
        if budget.id in allowances or budget.id in pending
        else budget
        for budget in budgets
    ]
