"""The budget check every instrumented call passes before it is sent.

A guard (installed by the flag subscriber) decides from a local flag table,
without a network round trip, whether the call may go ahead. With no guard
installed every call goes ahead.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol

from . import recorder
from .recorder import LLMCall, Settlement


class BudgetExceeded(Exception):
    """A budget blocks this call; the provider was not called. ``retry_after``: seconds until a
    rate limit lets a call through again (None when waiting does not help)."""

    def __init__(
        self,
        scope_type: str,
        scope_id: str,
        limit: Decimal,
        spend: Decimal,
        reason: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        self.scope_type = scope_type
        self.scope_id = scope_id
        self.limit = limit
        self.spend = spend
        self.reason = reason
        where = scope_type if not scope_id else f"{scope_type} {scope_id!r}"
        message = f"budget exceeded for {where}: spent {spend} of a {limit} limit"
        super().__init__(message + (f" ({reason})" if reason else ""))


class ScopePaused(BudgetExceeded):
    """The scope was paused by hand (``spendgate pause``): no call, free or not, until it is unpaused."""

    def __init__(self, scope_type: str, scope_id: str, reason: str) -> None:
        super().__init__(scope_type, scope_id, Decimal(0), Decimal(0), reason)
        where = scope_type if not scope_id else f"{scope_type} {scope_id!r}"
        self.args = (f"{where} is paused ({reason})",)  # nothing was spent against a limit


class Guard(Settlement, Protocol):
    """Checks a call before it is sent; settles it (``after_call``) when it ended."""

    def check(self, call: LLMCall, request: dict[str, Any]) -> None:
        """Raise BudgetExceeded to stop the call."""


_guard: Guard | None = None
# Set by instrument(): budgets are then configured by its arguments, not by the environment.
configured_explicitly = False


def install_guard(guard: Guard | None) -> None:
    global _guard
    _guard = guard
    recorder.settle_with(guard)  # the calls it counted are settled with it when they end


def installed_guard() -> Guard | None:
    return _guard


def before_call(call: LLMCall, request: dict[str, Any]) -> None:
    guard = _guard
    if guard is not None:
        guard.check(call, request)
