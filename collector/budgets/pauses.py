"""Scopes paused by hand: a block independent of spend, with who and why.

A pause is a versioned row of ``scope_pauses`` (like a budget): pausing or
unpausing writes a new version, readers take the newest per scope, so a pause
survives restarts and collectors in external mode read the same table. The
board serves each paused scope as a block flag of metric ``pause``, which the
agent's guard enforces on every call, free ones included.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from spendgate.collector.tables import Records, Table

from spendgate.flag import PAUSE_METRIC, Flag

ScopeKey = tuple[str, str]  # (scope type, scope id); global has the empty id


@dataclass(frozen=True)
class ScopePause:
    """One version of a scope's pause, as the scope_pauses table holds it."""

    scope_type: str
    scope_id: str
    version: int
    paused: bool
    reason: str
    changed_by: str
    changed_at: datetime

    @property
    def key(self) -> ScopeKey:
        return self.scope_type, self.scope_id

    def flag(self) -> Flag:
        """The block flag agents receive while the scope is paused."""
        why = f": {self.reason}" if self.reason else ""
        zero = Decimal(0)
        return Flag(
            # Budget ids cannot hold a '/': this one never collides with a budget, nor across scope types.
            budget_id=f"pause/{self.scope_type}",
            scope_type=self.scope_type,
            scope_id=self.scope_id,
            metric=PAUSE_METRIC,
            state="block",
            spend=zero,
            limit=zero,
            utilization=zero,
            remaining=zero,
            period_end=None,
            reason=f"paused by {self.changed_by}{why}",
        )

    def to_json(self) -> dict[str, str | int | bool]:
        return {
            "scope_type": self.scope_type,
            "scope_id": self.scope_id,
            "state": "paused" if self.paused else "ok",
            "paused": self.paused,
            "reason": self.reason,
            "changed_by": self.changed_by,
            "changed_at": self.changed_at.isoformat(),
            "version": self.version,
        }


PAUSES = Table("scope_pauses", ScopePause)


class PauseStore:
    def __init__(self, storage: Records) -> None:
        self._storage = storage
        self._lock = threading.Lock()  # versions of concurrent changes in this process

    def _latest(self) -> dict[ScopeKey, ScopePause]:
        return {p.key: p for p in self._storage.records(PAUSES, "budgets/current_pauses.sql")}

    def paused(self) -> list[ScopePause]:
        """Every scope paused now."""
        return [p for p in self._latest().values() if p.paused]

    def flags(self) -> list[Flag]:
        return [p.flag() for p in self.paused()]

    def pause(self, scope_type: str, scope_id: str, reason: str, by: str) -> ScopePause:
        """Pause a scope (again: the new reason and author replace the old)."""
        with self._lock:
            return self._write(self._latest().get((scope_type, scope_id)), scope_type, scope_id, reason, by)

    def unpause(self, scope_type: str, scope_id: str, by: str) -> ScopePause | None:
        """Lift a pause; None when the scope was not paused (nothing is written)."""
        with self._lock:
            current = self._latest().get((scope_type, scope_id))
            if current is None or not current.paused:
                return None
            return self._write(current, scope_type, scope_id, None, by)

    def _write(
        self, current: ScopePause | None, scope_type: str, scope_id: str, reason: str | None, by: str
    ) -> ScopePause:
        """A new version above ``current``: paused with ``reason``, or unpaused when it is None."""
        version = (current.version if current else 0) + 1
        paused = reason is not None
        row = ScopePause(scope_type, scope_id, version, paused, reason or "", by, datetime.now(UTC))
        self._storage.insert(PAUSES, [row])
        return row
