"""Calls as a budget metric and rate limits (calls over short rolling windows): validation, the
evaluator and the fast path, the flag lifting as the window slides, a real agent process refused
by its own count and let through again, per-run call limits, and external mode's metric."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

from .collector_process import agent_command, fake_provider  # noqa: F401 (the fixture `fake`)
from .conftest import RunningCollector, chat_attributes, collector_running, make_spans, wait_until

CONFIG = """
extensions:
  budgets:
    evaluate_every: 1h
    defaults: []
"""


@pytest.fixture(scope="module")
def running(chdb_dsn: str) -> Iterator[RunningCollector]:
    """One collector for the module; it evaluates when a budget changes and when a rolling window
    that is not ok is due a re-check, else hourly: flags come from the fast path and re-checks."""
    with collector_running(chdb_dsn, CONFIG) as collector:
        yield collector


def api(running: RunningCollector) -> httpx.Client:
    return httpx.Client(base_url=running.http_url, timeout=10)


def create(running: RunningCollector, **budget: Any) -> dict[str, Any]:
    response = api(running).post("/api/v1/costs/budgets", json={"grace_percent": 0, **budget})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def flags(running: RunningCollector) -> dict[tuple[str, str], dict[str, Any]]:
    body = api(running).get("/v1/flags").json()
    return {(f["budget_id"], f["scope_id"]): f for f in body["flags"]}


def send(running: RunningCollector, count: int, refused: bool = False, **attributes: Any) -> None:
    if refused:  # as the SDK wrappers record a call the guard refused: no usage, error BudgetExceeded
        attributes |= {"gen_ai.usage.input_tokens": 0, "gen_ai.usage.output_tokens": 0}
        attributes["error.type"] = "BudgetExceeded"
    spans = make_spans([{"attributes": chat_attributes(**attributes)} for _ in range(count)])
    assert GrpcExporter(endpoint=running.grpc_endpoint, insecure=True).export(spans).name == "SUCCESS"


@pytest.mark.parametrize(
    ("budget", "problem"),
    [
        ({"period": "rolling"}, "one of rolling_hours and rolling_seconds"),
        ({"period": "rolling", "rolling_hours": 1, "rolling_seconds": 60}, "not both"),
        ({"period": "month", "rolling_seconds": 60}, "rolling_seconds is for rolling budgets"),
        ({"period": "rolling", "rolling_seconds": 0}, "rolling_seconds"),
        ({"period": "rolling", "rolling_seconds": "a minute"}, "rolling_seconds"),
        ({"period": "request"}, "cannot count calls"),
        ({"metric": "requests"}, "metric"),
    ],
)
def test_bad_calls_budgets_are_refused_naming_the_problem(
    running: RunningCollector, budget: dict[str, Any], problem: str
) -> None:
    body = {"scope_type": "agent", "scope_id": "*", "metric": "calls", "limit": 5, **budget}
    response = api(running).post("/api/v1/costs/budgets", json=body)
    assert response.status_code == 422 and problem in response.text, response.text


def test_calls_budgets_count_sent_calls_in_the_fast_path_and_the_evaluator(running: RunningCollector) -> None:
    create(running, id="pc", scope_type="project", scope_id="calls-p", metric="calls", limit=3, period="day")
    create(running, id="tc", scope_type="team", scope_id="*", metric="calls", limit=2, period="day")
    send(running, 2, **{"spendgate.project": "calls-p", "spendgate.team": "t-a"})
    send(running, 3, refused=True, **{"spendgate.project": "calls-p"})  # never sent: not calls
    send(running, 1, **{"spendgate.team": "t-b"})
    assert ("pc", "calls-p") not in flags(running)
    assert flags(running)[("tc", "t-a")]["state"] == "block" and ("tc", "t-b") not in flags(running)
    send(running, 1, **{"spendgate.project": "calls-p"})  # the third call: the fast path blocks
    flag = flags(running)[("pc", "calls-p")]
    assert (flag["state"], flag["metric"], flag["spend"]) == ("block", "calls", "3")
    assert flag["reason"] == "blocked: 3 of 3 calls used (project calls-p day budget pc)"
    runtime = running.collector.budgets
    assert runtime is not None and runtime.evaluator is not None
    evaluations = {(e.budget.id, e.scope_id): e for e in runtime.evaluator.run_once()}
    counted = evaluations[("pc", "calls-p")]
    assert (counted.spend, counted.calls, counted.state) == (Decimal(3), 6, "block")  # 6 recorded, 3 sent
    assert (evaluations[("tc", "t-a")].spend, evaluations[("tc", "t-b")].spend) == (Decimal(2), Decimal(1))
    assert flags(running)[("pc", "calls-p")]["reason"].startswith("blocked: 3 of 3 calls used")


def test_a_rolling_calls_flag_lifts_once_the_window_has_slid(running: RunningCollector) -> None:
    created = create(running, id="slide", scope_type="project", scope_id="slide", metric="calls", limit=2,
                     period="rolling", rolling_seconds=2)  # fmt: skip
    assert created["rolling_seconds"] == 2 and created["rolling_hours"] is None
    send(running, 2, **{"spendgate.project": "slide"})
    flag = flags(running)[("slide", "slide")]
    assert flag["state"] == "block" and "(project slide 2 s rolling budget slide)" in flag["reason"]
    # No evaluation is due for an hour: the re-check the fast path asked for lifts it.
    wait_until(lambda: ("slide", "slide") not in flags(running), timeout=15, what="the flag to lift")
    send(running, 1, **{"spendgate.project": "slide"})
    assert ("slide", "slide") not in flags(running)  # one call in the window: 1 of 2


AGENT = """
import sys, time
import openai
import spendgate
from spendgate.instrumentation import configure, enforcement

configure.instrument("rate-agent", sys.argv[2], spool_dir=sys.argv[3])
guard = enforcement.installed_guard()
deadline = time.monotonic() + 30
while not any(limit.budget_id == "rate" for limit in guard.table.limits):
    assert time.monotonic() < deadline, "the rate limit never reached the agent"
    time.sleep(0.01)
client = openai.OpenAI(base_url=sys.argv[1], api_key="k", max_retries=0)


def call():
    try:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        return "sent"
    except spendgate.BudgetExceeded as exc:
        return f"refused {exc.retry_after} {exc.reason}"


with spendgate.scope(agent="rater"):
    for _ in range(6):
        print(call(), flush=True)
    deadline = time.monotonic() + 30  # then once every 100 ms until a call goes through again
    tries = 1
    while (outcome := call()) != "sent" and time.monotonic() < deadline:
        tries += 1
        time.sleep(0.1)
    print(outcome, tries, flush=True)
configure.flush()
"""


def test_an_agent_process_is_refused_past_its_rate_limit_and_let_through_once_it_slides(
    running: RunningCollector, fake: Any, tmp_path: Path
) -> None:
    # "5 calls per 3 seconds per agent", for each agent: enforced by the agent on its own calls.
    create(running, id="rate", scope_type="agent", scope_id="*", metric="calls", limit=5, period="rolling",
           rolling_seconds=3)  # fmt: skip
    before = len(fake.requests)
    args = agent_command(AGENT, tmp_path, fake.url("openai"), running.grpc_endpoint)
    done = subprocess.run(args, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:5] == ["sent"] * 5, lines
    refused = lines[5].split(" ", 2)
    assert refused[0] == "refused" and 0 < float(refused[1]) <= 3, lines
    assert refused[2].startswith("rate limit rate: this process sent 5 of 5 calls in 3 s (agent rater)")
    assert lines[6].startswith("sent "), lines  # allowed again once the window slid
    assert len(fake.requests) == before + 6  # the refused calls never reached the provider


def test_per_run_call_limits_stop_the_run_in_process(running: RunningCollector, fake: Any) -> None:
    import openai
    from spendgate.instrumentation.configure import enforce_budgets, stop_enforcing
    from spendgate.instrumentation.openai import OpenAIInstrumentor

    from spendgate import BudgetExceeded, scope

    create(
        running, id="run-calls", scope_type="agent_type", scope_id="*", metric="calls", limit=2, period="run"
    )
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    guard = enforce_budgets(running.grpc_endpoint, wait_seconds=10)
    try:
        wait_until(lambda: any(lim.budget_id == "run-calls" for lim in guard.table.limits))
        sdk = openai.OpenAI(base_url=fake.url("openai"), api_key="k", max_retries=0)
        with scope(agent_type="worker", run="r-1"):
            for _ in range(2):
                sdk.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
            with pytest.raises(BudgetExceeded, match="per-run limit run-calls") as stopped:
                sdk.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
        assert stopped.value.spend == Decimal(2) and stopped.value.retry_after is None
        with scope(agent_type="worker", run="r-2"):  # a new run starts afresh
            sdk.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    finally:
        stop_enforcing()
        instrumentor.uninstrument()


def test_external_mode_serves_each_flag_with_its_metric(chdb_dsn: str) -> None:
    from spendgate.collector.budgets.runtime import BudgetRuntime

    external = CONFIG.replace("evaluate_every: 1h", "evaluate_every: 100ms\n    evaluator: external")
    with collector_running(chdb_dsn, external) as serving:
        create(serving, id="tok", scope_type="global", metric="tokens", limit=1000)
        create(serving, id="cnt", scope_type="project", scope_id="ext", metric="calls", limit=1)
        send(serving, 1, **{"spendgate.project": "ext"})  # 1,200 tokens, one call
        storage = serving.collector.storage
        assert storage is not None
        settings = serving.collector.config.extensions.budgets.model_copy(update={"evaluator": "embedded"})
        evaluator = BudgetRuntime(storage, settings, fast_path=False)  # what `spendgate evaluator` runs
        evaluator.open()
        try:
            wait_until(lambda: {("tok", ""), ("cnt", "ext")} <= set(flags(serving)), what="the stored flags")
        finally:
            evaluator.close()
        served = flags(serving)
        tokens = served[("tok", "")]
        assert (tokens["metric"], Decimal(tokens["spend"])) == ("tokens", Decimal(1200))
        assert served[("cnt", "ext")]["metric"] == "calls"
        assert served[("cnt", "ext")]["reason"].startswith("blocked: 1 of 1 calls used")


def test_the_agents_window_refuses_at_the_limit_records_nothing_refused_and_slides() -> None:
    from spendgate.instrumentation.enforcement import BudgetExceeded
    from spendgate.instrumentation.flags_client import CallLimit
    from spendgate.instrumentation.rate_limits import RateWindows

    def limit(budget_id: str, calls: int, seconds: int) -> CallLimit:
        return CallLimit(
            budget_id, "agent", "*", "rolling", "calls", Decimal(calls), True, seconds, Decimal(calls)
        )

    windows = RateWindows()
    narrow, wide = (limit("narrow", 2, 10), "a"), (limit("wide", 3, 60), "a")
    windows.admit([narrow, wide], now=100.0)
    windows.admit([narrow, wide], now=101.0)
    with pytest.raises(BudgetExceeded) as refused:
        windows.admit([narrow, wide], now=102.0)
    assert refused.value.retry_after == pytest.approx(8.0) and "2 of 2 calls in 10 s" in refused.value.reason
    assert windows.sent("wide", "a") == 2  # the refused call is not counted against the other limit
    windows.admit([narrow, wide], now=110.5)  # the first call aged out of the narrow window
    with pytest.raises(BudgetExceeded, match="rate limit wide: this process sent 3 of 3 calls in 60 s"):
        windows.admit([narrow, wide], now=130.0)
