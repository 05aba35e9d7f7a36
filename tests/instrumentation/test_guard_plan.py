"""The guard's per-call shortcuts: the scopes and limits cached per baggage, model and snapshot,
and the per-request limit judged by a price bound first, exactly only near the limit."""

from __future__ import annotations

from decimal import Decimal

import pytest
from opentelemetry import trace
from spendgate.instrumentation.budget_guard import BudgetGuard
from spendgate.instrumentation.enforcement import BudgetExceeded
from spendgate.instrumentation.flags_client import FlagTable
from spendgate.instrumentation.recorder import LLMCall

from spendgate import scope
from spendgate.proto import flags_pb2 as pb

REQUEST = {"messages": [{"role": "user", "content": "write a haiku"}], "max_tokens": 1000}
TRACER = trace.get_tracer("test")


def guard_with(version: int, limit: str, agent: str = "a") -> BudgetGuard:
    table = FlagTable()
    guard = BudgetGuard(table)
    set_limit(guard, version, limit, agent)
    return guard


def set_limit(guard: BudgetGuard, version: int, limit: str, agent: str = "a") -> None:
    per_request = pb.CallLimit(
        budget_id="per-request-a",
        scope=pb.Scope(type="agent", id=agent),
        period="request",
        metric="cost",
        limit=limit,
        hard=True,
    )
    guard.table.apply(pb.FlagSnapshot(version=version, limits=[per_request]))


def check(guard: BudgetGuard, model: str = "gpt-4o-mini") -> None:
    guard.check(LLMCall(TRACER, "openai", "chat", model), REQUEST)


def test_the_cached_limits_follow_the_scope_the_model_and_the_snapshot() -> None:
    guard = guard_with(1, "0.0001")  # 1000 output tokens of gpt-4o-mini cost $0.0006
    for _ in range(2):  # the second time from the cache
        with scope(agent="a"), pytest.raises(BudgetExceeded):
            check(guard)
        with scope(agent="b"):
            check(guard)  # the limit binds agent a only
        check(guard)  # nor outside any scope
    with scope(agent="a"):
        with pytest.raises(BudgetExceeded):
            check(guard, "gpt-4o")
        set_limit(guard, 2, "1")  # a new snapshot: the cached limits are dropped
        check(guard)
        set_limit(guard, 3, "0.0001", agent="c")
        check(guard)


def test_a_call_between_the_bound_and_its_exact_worst_case_goes_through() -> None:
    guard = guard_with(1, "1")
    exact = guard.worst_case(REQUEST, "openai", "gpt-4o-mini").cost
    bound = guard.table.pricer.ceiling("openai", "gpt-4o-mini").bound(len(repr(REQUEST["messages"])) + 1000)
    assert exact < bound
    with scope(agent="a"):
        set_limit(guard, 2, str((exact + bound) / 2))
        check(guard)  # the bound is over the limit, the exact worst case is not
        set_limit(guard, 3, str(exact - Decimal("0.0000001")))
        with pytest.raises(BudgetExceeded) as refused:
            check(guard)
    assert refused.value.estimate == exact
    assert "estimated" in str(refused.value)
