"""The pre-flight check (the seeds' is_budget_available) over HTTP and gRPC on one running collector:
real budgets, real spend sent with the OTLP exporter, a reservation held; both ways give one decision."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf.json_format import MessageToDict

from spendgate.proto import flags_pb2 as pb
from spendgate.proto import flags_pb2_grpc

from .conftest import RunningCollector, collector_running, wait_until
from .test_enforcement import NO_DEFAULTS, send


@pytest.fixture(scope="module")
def collector(chdb_dsn: str) -> Iterator[RunningCollector]:
    with collector_running(chdb_dsn, NO_DEFAULTS.format(every="1h", more="")) as running:
        yield running


def _stub(running: RunningCollector) -> flags_pb2_grpc.BudgetFlagsStub:
    return flags_pb2_grpc.BudgetFlagsStub(grpc.insecure_channel(running.grpc_endpoint))


def _grpc_json(answer: pb.CheckResponse) -> dict[str, Any]:
    """The gRPC answer in the HTTP answer's shape: scopes flattened, unset *_usd as null."""

    def flat(budget: dict[str, Any]) -> dict[str, Any]:
        scope = budget.pop("scope")
        out = budget | {"scope_type": scope["type"], "scope_id": scope["id"]}
        return out | {k: None for k in ("limit_usd", "current_spend_usd", "remaining_usd") if not out[k]}

    data = MessageToDict(answer, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
    return {k: data[k] for k in ("allowed", "reason", "has_budget", "source")} | {
        "budgets": [flat(b) for b in data["budgets"]]
    }


def check(
    running: RunningCollector, scope: tuple[str, str], cost: str = "", tokens: str = ""
) -> dict[str, Any]:
    """The HTTP decision, asserted identical to the gRPC one."""
    params = {
        "scope_type": scope[0],
        "scope_id": scope[1],
        "estimated_cost": cost,
        "estimated_tokens": tokens,
    }
    http = httpx.get(f"{running.http_url}/api/v1/costs/budgets/check", params=params, timeout=10)
    assert http.status_code == 200, http.text
    body = http.json()
    request = pb.CheckRequest(
        scopes=[pb.Scope(type=scope[0], id=scope[1])], estimated_cost=cost, estimated_tokens=tokens
    )
    answer = _stub(running).Check(request, timeout=10)
    assert _grpc_json(answer) == {
        k: body[k] for k in ("allowed", "reason", "has_budget", "source", "budgets")
    }
    if body["budgets"]:
        assert answer.tightest.budget_id == body["budget_id"]
    return body


def _budget(running: RunningCollector, **fields: Any) -> None:
    created = httpx.post(f"{running.http_url}/api/v1/costs/budgets", json=fields, timeout=10)
    assert created.status_code == 200, created.text


def _spend(running: RunningCollector, scope: tuple[str, str], budget_id: str) -> Decimal:
    found = [b for b in check(running, scope)["budgets"] if b["budget_id"] == budget_id]
    return Decimal(found[0]["spend"]) if found else Decimal(-1)


def test_a_check_weighs_the_estimate_against_every_budget_that_applies(collector: RunningCollector) -> None:
    nothing = check(collector, ("team", "nobody"), cost="10000")
    assert nothing["allowed"] is True and nothing["has_budget"] is False and nothing["budgets"] == []
    assert nothing["reason"] == "no budget applies" and nothing["source"] == "live"

    _budget(collector, id="all", scope_type="global", limit="500")
    _budget(collector, id="ann", scope_type="user", scope_id="ann", limit="1", grace_percent=0)
    _budget(collector, id="soft", scope_type="project", scope_id="p-soft", limit="0.01", hard=False)
    _budget(collector, id="bob", scope_type="user", scope_id="bob", limit="0.01", grace_percent=0)
    _budget(collector, id="teams", scope_type="team", scope_id="*", limit="1", grace_percent=0)
    send(collector, 100, **{"spendgate.user": "ann"})  # $0.45
    send(collector, 10, **{"spendgate.project": "p-soft"})  # $0.045 of a $0.01 soft budget
    send(collector, 3, **{"spendgate.user": "bob"})  # $0.0135: blocked
    wait_until(lambda: _spend(collector, ("user", "bob"), "bob") == Decimal("0.0135"), what="bob's spend")

    # The $500 global budget is ok, yet it has no room for $10,000 (nor for $550 with its 10 % grace).
    big = check(collector, ("team", "nobody"), cost="10000")
    assert big["allowed"] is False and big["has_budget"] is True and big["budget_id"] == "all"
    assert "an estimated $10,000.00" in big["reason"] and "$500.00 limit (+10 % grace)" in big["reason"]
    assert check(collector, ("global", ""), cost="549")["allowed"] is True
    assert check(collector, ("global", ""), cost="551")["allowed"] is False

    # A soft budget over its limit warns and never refuses.
    soft = check(collector, ("project", "p-soft"), cost="1")
    by_id = {b["budget_id"]: b for b in soft["budgets"]}
    assert soft["allowed"] is True and set(by_id) == {"all", "soft"}
    assert by_id["soft"]["is_exceeded"] is True and by_id["soft"]["hard"] is False
    assert by_id["soft"]["current_spend_usd"] == "0.045" and "soft budget" in by_id["soft"]["reason"]
    assert soft["budget_id"] == "soft" and soft["utilization_percent"] == "450.00"

    # Room: $1 - $0.45 = $0.55.
    fits = check(collector, ("user", "ann"), cost="0.5")
    assert fits["allowed"] is True and fits["budget_id"] == "ann" and fits["reason"] == ""
    assert (fits["limit_usd"], fits["current_spend_usd"], fits["remaining_usd"]) == ("1", "0.45", "0.55")
    assert fits["utilization_percent"] == "45.00" and fits["is_exceeded"] is False
    too_big = check(collector, ("user", "ann"), cost="0.6")
    assert too_big["allowed"] is False and too_big["budget_id"] == "ann"
    assert too_big["reason"].startswith("an estimated $0.60 on top of $0.45 spent and $0.00 held")

    # A strict-mode reservation held counts against the room.
    reserved = _stub(collector).Reserve(
        pb.ReserveRequest(scopes=[pb.Scope(type="user", id="ann")], amount="0.3")
    )
    assert reserved.granted
    held = check(collector, ("user", "ann"), cost="0.5")
    assert held["allowed"] is False and held["held"] == "0.3" and held["remaining_usd"] == "0.25"
    assert "$0.30 held" in held["reason"]
    assert check(collector, ("user", "ann"), cost="0.25")["allowed"] is True

    # A blocked budget refuses with no estimate at all.
    blocked = check(collector, ("user", "bob"))
    assert (
        blocked["allowed"] is False
        and blocked["state"] == "block"
        and blocked["reason"].startswith("blocked")
    )

    # A default (*) budget applies to every id of its type.
    team = check(collector, ("team", "t9"), cost="2")
    assert team["allowed"] is False and (team["budget_id"], team["budgets"][1]["scope_id"]) == ("teams", "t9")


def test_token_budgets_weigh_token_estimates(collector: RunningCollector) -> None:
    _budget(
        collector,
        id="tok",
        scope_type="agent",
        scope_id="a-tok",
        metric="tokens",
        limit="5000",
        grace_percent=0,
    )
    send(collector, 2, **{"spendgate.agent": "a-tok"})  # 2,400 tokens
    wait_until(lambda: _spend(collector, ("agent", "a-tok"), "tok") == 2400, what="the agent's tokens")
    answer = check(collector, ("agent", "a-tok"), cost="1", tokens="2000")
    tokens = next(b for b in answer["budgets"] if b["budget_id"] == "tok")
    assert answer["allowed"] is True and tokens["limit_usd"] is None and tokens["remaining"] == "2600"
    refused = check(collector, ("agent", "a-tok"), tokens="3000")
    assert refused["allowed"] is False and "an estimated 3,000 tokens" in refused["reason"]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"estimated_cost": "-1"}, "estimated_cost"),
        ({"estimated_cost": "lots"}, "estimated_cost"),
        ({"estimated_cost": "NaN"}, "estimated_cost"),
        ({"estimated_tokens": "-5"}, "estimated_tokens"),
        ({"scope_type": "planet", "scope_id": "x"}, "scope_type"),
        ({"scope_type": "user"}, "needs an id"),
    ],
)
def test_bad_input_is_refused_naming_it(
    collector: RunningCollector, params: dict[str, str], named: str
) -> None:
    http = httpx.get(f"{collector.http_url}/api/v1/costs/budgets/check", params=params, timeout=10)
    assert http.status_code == 422 and named in http.text
    scope = pb.Scope(type=params.get("scope_type", "global"), id=params.get("scope_id", ""))
    request = pb.CheckRequest(
        scopes=[scope],
        estimated_cost=params.get("estimated_cost", ""),
        estimated_tokens=params.get("estimated_tokens", ""),
    )
    with pytest.raises(grpc.RpcError) as error:
        _stub(collector).Check(request, timeout=10)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (named if named != "scope_type" else "scope type") in str(error.value.details())


def test_out_of_the_box_every_agent_has_a_monthly_budget(running: RunningCollector) -> None:
    """The built-in defaults (no defaults in the config): seed 004's $50 a month per agent."""
    send(running, 2, **{"spendgate.agent": "a-1"})
    url = f"{running.http_url}/api/v1/costs/budgets/status"

    def agents() -> dict[str, dict[str, Any]]:
        scopes = httpx.get(url, params={"scope_type": "agent"}, timeout=10).json()["scopes"]
        return {s["scope_id"]: s for s in scopes if s["budget_id"] == "agent-default-monthly"}

    wait_until(lambda: "a-1" in agents(), timeout=30, what="the agent in the status view", interval=0.1)
    status = agents()["a-1"]
    assert (status["limit_amount"], status["spend"], status["period"], status["state"]) == (
        "50",
        "0.009",
        "month",
        "ok",
    )
    # Hard with 10 % grace: $55 is the most a month's work may reach.
    assert check(running, ("agent", "a-1"), cost="54.99")["allowed"] is True
    refused = check(running, ("agent", "a-1"), cost="55")
    assert refused["allowed"] is False and refused["budget_id"] == "agent-default-monthly"
    assert {b["budget_id"] for b in refused["budgets"]} == {"global-monthly", "agent-default-monthly"}


def test_without_a_live_counter_the_check_answers_from_the_stored_snapshot(chdb_dsn: str) -> None:
    """External evaluator mode: this collector has no fast path; `spendgate evaluator` stores status and flags."""
    from spendgate.collector.budgets.runtime import BudgetRuntime

    external = NO_DEFAULTS.format(every="100ms", more="    evaluator: external\n")
    with collector_running(chdb_dsn, external) as running:
        assert running.collector.budgets is not None and running.collector.budgets.live is None
        _budget(running, id="ext-all", scope_type="global", limit="1", grace_percent=0)
        _budget(running, id="ext-ann", scope_type="user", scope_id="ann", limit="0.01", grace_percent=0)
        send(running, 3, **{"spendgate.user": "ann"})  # $0.0135
        storage = running.collector.storage
        assert storage is not None
        settings = running.collector.config.extensions.budgets.model_copy(update={"evaluator": "embedded"})
        evaluator = BudgetRuntime(storage, settings, fast_path=False)  # what `spendgate evaluator` runs
        evaluator.open()
        try:
            wait_until(lambda: not check(running, ("user", "ann"))["allowed"], what="the stored block")
        finally:
            evaluator.close()
        blocked = check(running, ("user", "ann"))
        assert blocked["source"] == "snapshot" and "external evaluator" in blocked["note"]
        assert blocked["budget_id"] == "ext-ann" and blocked["state"] == "block"
        overall = check(running, ("global", ""), cost="0.99")
        assert overall["allowed"] is False and overall["current_spend_usd"] == "0.0135"
        assert check(running, ("global", ""), cost="0.98")["allowed"] is True
