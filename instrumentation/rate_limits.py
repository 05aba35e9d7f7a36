"""Rate limits in the agent: this process's own calls in each rate-limited scope.

A calls budget over a rolling window ("60 calls per minute per agent") is
counted fleet-wide by the collector, whose flag blocks once the count crosses.
Between flag updates a burst from one process could send more than the limit;
so the guard also counts the calls this process sent in each limited scope
over the window, and refuses the call that the process alone would put past
the limit, with the time until the oldest call ages out.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from decimal import Decimal

from .enforcement import BudgetExceeded
from .flags_client import CallLimit


class RateWindows:
    """A deque of send times per (budget, scope id); only calls in limited scopes pay for it."""

    def __init__(self) -> None:
        self._sent: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()  # calls on several threads: check and record as one step

    def admit(self, limits: list[tuple[CallLimit, str]], now: float | None = None) -> None:
        """Record one call in every limit's window, or raise BudgetExceeded (recording nothing)
        if this process has sent ``block_at`` calls in any of them already."""
        now = time.monotonic() if now is None else now
        with self._lock:
            windows = []
            for limit, scope_id in limits:
                sent = self._sent.setdefault((limit.budget_id, scope_id), deque())
                oldest_kept = now - limit.window_seconds
                while sent and sent[0] <= oldest_kept:
                    sent.popleft()
                if len(sent) >= limit.block_at:
                    raise _refusal(limit, scope_id, len(sent), sent[0] - oldest_kept)
                windows.append(sent)
            for sent in windows:
                sent.append(now)

    def sent(self, budget_id: str, scope_id: str) -> int:
        """Calls recorded in a window (the newest ones; aged ones are dropped at the next call)."""
        return len(self._sent.get((budget_id, scope_id), ()))


def _refusal(limit: CallLimit, scope_id: str, sent: int, retry_after: float) -> BudgetExceeded:
    where = limit.scope_type if limit.scope_type == "global" else f"{limit.scope_type} {scope_id}"
    reason = (
        f"rate limit {limit.budget_id}: this process sent {sent} of {limit.limit:,.0f} calls in"
        f" {limit.window_seconds} s ({where}); retry after {retry_after:.1f} s"
    )
    return BudgetExceeded(
        limit.scope_type, scope_id, limit.limit, Decimal(sent), reason, retry_after=max(retry_after, 0.0)
    )
