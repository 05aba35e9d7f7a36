"""What a call is checked against: its scopes, its run and the limits that bind it there.

An agent makes call after call in the same scope, with the same model, under the same
snapshot, so the guard keeps the last plan and builds a new one only when one of those
changes. The plan sorts the limits by what the check does with them, and keeps the lowest
per-request limits so that a call far below them is let through after one comparison.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import NamedTuple

from spendgate.dimensions import AGENT_DIMENSIONS, SCOPE_TYPES

from .attribution import PREFIX
from .flags_client import CallLimit, FlagTable

Bound = tuple[CallLimit, str]  # a limit, with the scope id it binds
# Baggage key -> dimension, of the scope types the agent sets and of the run (for per-run limits).
_DIMENSION_OF = {PREFIX + name: name for name in AGENT_DIMENSIONS if name in SCOPE_TYPES or name == "run"}
_NO_LIMIT = Decimal("Infinity")


class CallPlan(NamedTuple):
    bag: Mapping[str, object]  # the baggage it was derived from
    provider: str
    model: str
    limit_index: dict[tuple[str, str], list[CallLimit]]  # of the snapshot it came from
    scopes: list[tuple[str, str]]
    run: str
    limited: bool  # any limit applies (the call is then counted in its run)
    run_limits: tuple[Bound, ...]  # hard per-run limits (checked only inside a run)
    request_limits: tuple[Bound, ...]  # hard per-request limits
    rate_limits: list[Bound]  # calls over a rolling window
    lowest_cost: Decimal  # the lowest per-request cost limit (Infinity if none)
    lowest_tokens: Decimal  # the lowest per-request token limit (Infinity if none)

    def fits(self, cost: Decimal, tokens: Decimal) -> bool:
        """Whether a call of at most this cost and these tokens is under every per-request limit."""
        return cost <= self.lowest_cost and tokens <= self.lowest_tokens


def plan_for(
    bag: Mapping[str, object], provider: str, model: str, table: FlagTable, last: CallPlan | None
) -> CallPlan:
    """The plan of a call with this baggage and model: ``last`` if it still holds."""
    if (
        last is not None
        and last.limit_index is table.limit_index
        and last.provider == provider
        and last.model == model
        and last.bag == bag
    ):
        return last
    scopes = [("global", "")]
    run = ""
    for key, value in bag.items():
        dimension = _DIMENSION_OF.get(key)
        if dimension is None or not value:
            continue
        if dimension == "run":
            run = str(value)
        else:
            scopes.append((dimension, str(value)))
    scopes.append(("provider", provider))
    if model:
        scopes.append(("model", model))
    index = table.limit_index
    limits = table.limits_for(scopes) if index else []
    hard = [(limit, scope_id) for limit, scope_id in limits if limit.hard]
    requests = tuple((limit, scope_id) for limit, scope_id in hard if limit.period == "request")
    return CallPlan(
        bag,
        provider,
        model,
        index,
        scopes,
        run,
        bool(limits),
        tuple((limit, scope_id) for limit, scope_id in hard if limit.period == "run"),
        requests,
        [(limit, scope_id) for limit, scope_id in limits if limit.period == "rolling"],
        min((limit.limit for limit, _ in requests if limit.metric == "cost"), default=_NO_LIMIT),
        min((limit.limit for limit, _ in requests if limit.metric == "tokens"), default=_NO_LIMIT),
    )
