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
    """A budget blocks this call; the provider was not called.

    ``spend`` is what the scope has spent. A call refused on its own estimate (a per-request
    limit, a strict-mode reservation) carries the estimate in ``estimate`` (USD, or tokens for
    ``metric="tokens"``), and the message names it as an estimate: nothing was spent on it.
    ``retry_after``: seconds until a rate limit lets a call through again (None when waiting
    does not help).
    """

    def __init__(
        self,
        scope_type: str,
        scope_id: str,
        limit: Decimal,
        spend: Decimal,
        reason: str = "",
        *,
        retry_after: float | None = None,
        estimate: Decimal | None = None,
        metric: str = "cost",
        limit_kind: str = "",
        budget_id: str = "",  # the budget that blocks, for request_override(); "" when none does
    ) -> None:
        self.retry_after = retry_after
        self.budget_id = budget_id
        self.scope_type = scope_type
        self.scope_id = scope_id
        self.limit = limit
        self.spend = spend
        self.reason = reason
        self.estimate = estimate
        self.metric = metric
        where = scope_type if not scope_id else f"{scope_type} {scope_id!r}"
        kind = f"{limit_kind} limit" if limit_kind else "limit"
        if estimate is not None:
            # A per-call limit is exceeded by the estimate alone; a period's limit has spend and
            # other calls' reservations beside it (the reason says how much is held).
            fits = (
                f"exceeds the {_amount(metric, limit)} {kind}"
                if limit_kind
                else f"does not fit in the {_amount(metric, limit)} limit ({_amount(metric, spend)} spent)"
            )
            message = f"budget exceeded for {where}: this call's {_estimated(metric, estimate)} {fits}"
        elif not limit and reason:  # no budget figures: the check itself failed (collector unreachable)
            message = f"budget check refused the call for {where}"
        else:
            spent, of = _amount(metric, spend), _amount(metric, limit)
            message = f"budget exceeded for {where}: spent {spent} of a {of} {kind}"
        super().__init__(message + (f" ({reason})" if reason else ""))


class ScopePaused(BudgetExceeded):
    """The scope was paused by hand (``spendgate pause``): no call, free or not, until it is unpaused."""

    def __init__(self, scope_type: str, scope_id: str, reason: str) -> None:
        super().__init__(scope_type, scope_id, Decimal(0), Decimal(0), reason)
        where = scope_type if not scope_id else f"{scope_type} {scope_id!r}"
        self.args = (f"{where} is paused ({reason})",)  # nothing was spent against a limit


def _amount(metric: str, value: Decimal) -> str:
    if metric == "tokens":
        return f"{value:,.0f} tokens"
    if value >= 1 or value == value.quantize(_CENT):
        return f"${value:,.2f}"
    return f"${value.quantize(_MICRO).normalize():f}"  # $0.0045, not $0.00


def _estimated(metric: str, value: Decimal) -> str:
    return (
        f"estimated {_amount(metric, value)}"
        if metric == "tokens"
        else f"estimated cost {_amount(metric, value)}"
    )


_CENT, _MICRO = Decimal("0.01"), Decimal("0.000001")


class RunLimits(Protocol):
    """What a stream needs to be stopped when it crosses its run's hard per-run limit."""

    def limits_run(self, call: LLMCall) -> bool:
        """True when the call is in a run with a hard per-run limit."""

    def prompt_tokens(self, request: dict[str, Any]) -> int:
        """The request's input, estimated (for a stream whose provider has not said yet)."""

    def run_overrun(self, call: LLMCall, input_tokens: int, output_tokens: int) -> BudgetExceeded | None:
        """The limit the run's spend plus this usage of the call crosses, if one does."""


class Guard(Settlement, RunLimits, Protocol):
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
