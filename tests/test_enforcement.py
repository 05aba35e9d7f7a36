"""Budgets end to end on a running collector: API, evaluation, fast path, flags over gRPC,
the agent's guard in front of real SDK calls, overrides, alerts and notifications."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

from .conftest import RunningCollector, chat_attributes, make_spans, start_collector

# One gpt-4o call of chat_attributes(): 1000 input tokens at $2.50/M + 200 output at $10/M.
ONE_CALL = Decimal("0.0045")

NO_DEFAULTS = """
extensions:
  budgets:
    evaluate_every: {every}
    defaults: []
{more}
"""


def _collector(chdb_dsn: str, every: str = "1h", more: str = "") -> Iterator[RunningCollector]:
    collector, thread, database = start_collector(chdb_dsn, NO_DEFAULTS.format(every=every, more=more))
    yield RunningCollector(collector, chdb_dsn, database)
    collector.request_stop()
    thread.join(30)


@pytest.fixture
def budgets(chdb_dsn: str) -> Iterator[RunningCollector]:
    """A collector that evaluates only when told (every hour): flag changes come from the fast path."""
    yield from _collector(chdb_dsn)


def send(running: RunningCollector, count: int, **attributes: Any) -> None:
    spans = make_spans([{"attributes": chat_attributes(**attributes)} for _ in range(count)])
    assert GrpcExporter(endpoint=running.grpc_endpoint, insecure=True).export(spans).name == "SUCCESS"


def api(running: RunningCollector) -> httpx.Client:
    return httpx.Client(base_url=running.http_url, timeout=10)


def flags(running: RunningCollector) -> dict[tuple[str, str], dict[str, Any]]:
    body = api(running).get("/v1/flags").json()
    return {(f["budget_id"], f["scope_id"]): f for f in body["flags"]}


def test_budget_crud_through_the_api(budgets: RunningCollector) -> None:
    client = api(budgets)
    created = client.post(
        "/api/v1/costs/budgets",
        json={
            "id": "t1",
            "scope_type": "ticket",
            "scope_id": "T-1",
            "limit": "2.50",
            "period": "week",
            "timezone": "Europe/Paris",
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["limit"] == "2.50" and created.json()["grace_percent"] == "10"
    assert (
        client.post(
            "/api/v1/costs/budgets", json={"id": "t1", "scope_type": "global", "limit": 1}
        ).status_code
        == 409
    )
    bad = client.post("/api/v1/costs/budgets", json={"scope_type": "project", "limit": 5})
    assert bad.status_code == 422 and "needs a scope_id" in bad.json()["detail"]
    assert client.put("/api/v1/costs/budgets/t1", json={"limit": "4"}).json()["limit"] == "4"
    assert client.post("/api/v1/costs/budgets/t1/pause").json()["active"] is False
    assert client.post("/api/v1/costs/budgets/t1/resume").json()["active"] is True
    listed = client.get("/api/v1/costs/budgets", params={"scope_type": "ticket"}).json()["budgets"]
    assert [(b["id"], b["limit"], b["timezone"]) for b in listed] == [("t1", "4", "Europe/Paris")]
    assert client.delete("/api/v1/costs/budgets/t1").status_code == 204
    assert client.get("/api/v1/costs/budgets/t1").status_code == 404
    assert client.put("/api/v1/costs/budgets/nope", json={"limit": 1}).status_code == 404
    # Every change is a stored version; the newest one says deleted.
    versions = budgets.rows("SELECT version, deleted FROM {db}.budgets WHERE id = 't1' ORDER BY version")
    assert versions == [(1, False), (2, False), (3, False), (4, False), (5, True)]


def test_config_defaults_are_stored_once_and_api_changes_survive_a_restart(chdb_dsn: str) -> None:
    from spendgate.collector.config import Config

    seeded = {b.id for b in Config().extensions.budgets.defaults}
    collector, thread, database = start_collector(chdb_dsn)
    running = RunningCollector(collector, chdb_dsn, database)
    body = api(running).get("/api/v1/costs/budgets").json()["budgets"]
    found = {b["id"]: b for b in body}
    assert set(found) == seeded
    assert found["global-monthly"]["limit"] == "500" and found["global-monthly"]["period"] == "month"
    assert (
        found["project-default-monthly"]["scope_id"] == "*"
        and found["project-default-monthly"]["limit"] == "50"
    )
    assert found["per-request-documentation"]["limit"] == "0.05"
    assert api(running).put("/api/v1/costs/budgets/global-monthly", json={"limit": "750"}).status_code == 200
    limits = api(running).get("/v1/flags").json()["limits"]
    assert {(lim["id"], lim["period"]) for lim in limits} >= {
        ("per-request", "request"),
        ("per-run-cost", "run"),
    }
    collector.request_stop()
    thread.join(30)
    # A restart on the same database keeps the changed limit: defaults are written only once.
    from spendgate.collector.app import Collector
    from spendgate.collector.config import parse_config

    from .conftest import collector_yaml, free_port

    again = Collector(parse_config(collector_yaml(chdb_dsn, database, free_port(), free_port())))
    again.open()
    try:
        assert again.budgets is not None
        assert again.budgets.store.get("global-monthly").limit == Decimal(750)
    finally:
        again.close()


def test_fast_path_flags_a_crossing_before_any_evaluation(budgets: RunningCollector) -> None:
    client = api(budgets)
    assert (
        client.post(
            "/api/v1/costs/budgets",
            json={
                "id": "p",
                "scope_type": "project",
                "scope_id": "alpha",
                "limit": str(ONE_CALL * 10),
                "grace_percent": 0,
            },
        ).status_code
        == 201
    )
    time.sleep(0.3)  # the evaluation the change triggers
    runs = budgets.collector.budgets.evaluator.runs
    send(budgets, 7, **{"spendgate.project": "alpha"})
    assert ("p", "alpha") not in flags(budgets)  # 70 %: below the first flagging threshold
    send(budgets, 2, **{"spendgate.project": "alpha"})
    assert flags(budgets)[("p", "alpha")]["state"] == "warn"  # 90 %: past 80, short of 95
    send(budgets, 1, **{"spendgate.project": "alpha"})
    flag = flags(budgets)[("p", "alpha")]
    assert flag["state"] == "block" and Decimal(flag["spend"]) == ONE_CALL * 10
    assert "blocked" in flag["reason"] and "project alpha" in flag["reason"]
    send(budgets, 3, **{"spendgate.project": "beta"})  # other projects are not touched
    assert ("p", "beta") not in flags(budgets)
    assert budgets.collector.budgets.evaluator.runs == runs  # no evaluation ran: the fast path did it
    # The next evaluation agrees with the fast path.
    evaluations = budgets.collector.budgets.evaluator.run_once()
    assert [(e.scope_id, e.spend, e.state) for e in evaluations] == [("alpha", ONE_CALL * 10, "block")]


# -- the agent: flags over gRPC, the guard in front of real SDK calls ------------------------------------


@pytest.fixture(scope="module")
def fake() -> Iterator[Any]:
    from spendgate.instrumentation.fake_provider import FakeProvider

    with FakeProvider() as server:
        yield server


@pytest.fixture
def agent(budgets: RunningCollector) -> Iterator[Any]:
    """The openai SDK instrumented in this process, with the guard subscribed to the collector."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from spendgate.instrumentation.configure import enforce_budgets, stop_enforcing
    from spendgate.instrumentation.openai import OpenAIInstrumentor

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    warnings: list[Any] = []
    guard = enforce_budgets(budgets.grpc_endpoint, wait_seconds=10, on_warn=warnings.append)
    guard.memory, guard.warnings = memory, warnings  # type: ignore[attr-defined]
    try:
        yield guard
    finally:
        stop_enforcing()
        instrumentor.uninstrument()


def _until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def _spans(guard: Any) -> list[Any]:
    from spendgate.instrumentation.recorder import RECORDER

    RECORDER.flush()
    return list(guard.memory.get_finished_spans())


MESSAGES = [{"role": "user", "content": "hello"}]


def test_a_block_flag_stops_the_agent_before_the_provider_is_called(
    budgets: RunningCollector, agent: Any, fake: Any
) -> None:
    import openai
    from spendgate import BudgetExceeded, scope

    client = api(budgets)
    client.post("/api/v1/costs/budgets", json={"id": "alpha-cap", "scope_type": "project", "scope_id": "alpha",
                                               "limit": str(ONE_CALL * 4), "grace_percent": 0})
    sdk = openai.OpenAI(base_url=fake.url("openai"), api_key="k", max_retries=0)
    with scope(project="alpha", agent="coder"):
        sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # allowed
        send(budgets, 4, **{"spendgate.project": "alpha"})  # spend arrives from elsewhere in the fleet
        _until(lambda: bool(agent.table.flags_for([("project", "alpha")])))
        sent = len(fake.requests)
        with pytest.raises(BudgetExceeded) as blocked:
            sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert len(fake.requests) == sent  # the provider never saw the blocked call
    error = blocked.value
    assert (error.scope_type, error.scope_id, error.limit) == ("project", "alpha", ONE_CALL * 4)
    assert error.spend == ONE_CALL * 4 and "alpha-cap" in str(error)
    with scope(project="beta"):
        sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # other projects go on
    blocked_span = [s for s in _spans(agent) if s.attributes.get("spendgate.blocked")]
    assert len(blocked_span) == 1
    attrs = blocked_span[0].attributes
    assert attrs["error.type"] == "BudgetExceeded" and attrs["gen_ai.usage.input_tokens"] == 0
    assert attrs["gen_ai.usage.output_tokens"] == 0 and attrs["spendgate.project"] == "alpha"
    # An admin unblocks the project for an hour: the agent may call again at once.
    assert client.post("/api/v1/costs/budgets/alpha-cap/override", json={"unblock_for_minutes": 60}).status_code == 200
    _until(lambda: not any(f.state == "block" for f in agent.table.flags_for([("project", "alpha")])))
    with scope(project="alpha"):
        sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)


def test_warnings_are_logged_once_added_as_span_events_and_passed_to_the_callback(
    budgets: RunningCollector, agent: Any, fake: Any
) -> None:
    import openai
    from spendgate import scope

    api(budgets).post("/api/v1/costs/budgets", json={"id": "team-cap", "scope_type": "team", "scope_id": "ml",
                                                     "limit": str(ONE_CALL * 10)})
    send(budgets, 9, **{"spendgate.team": "ml"})
    _until(lambda: bool(agent.table.flags_for([("team", "ml")])))
    sdk = openai.OpenAI(base_url=fake.url("openai"), api_key="k", max_retries=0)
    with scope(team="ml"):
        for _ in range(3):
            sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert [(w.budget_id, w.state) for w in agent.warnings] == [("team-cap", "warn")]  # once, not three times
    spans = _spans(agent)
    assert len(spans) == 3
    assert all([e.name for e in s.events] == ["spendgate.budget.warn"] for s in spans)


def test_per_request_limits_refuse_a_call_whose_worst_case_is_too_expensive(
    budgets: RunningCollector, agent: Any, fake: Any
) -> None:
    import openai
    from spendgate import BudgetExceeded, scope

    api(budgets).post("/api/v1/costs/budgets", json={"id": "testing-req", "scope_type": "agent_type",
                                                     "scope_id": "testing", "limit": "0.01", "period": "request"})
    _until(lambda: any(lim.budget_id == "testing-req" for lim in agent.table.limits))
    sdk = openai.OpenAI(base_url=fake.url("openai"), api_key="k", max_retries=0)
    sent = len(fake.requests)
    with scope(agent_type="testing"):
        # gpt-4o: 4,000 output tokens could cost $0.04.
        with pytest.raises(BudgetExceeded, match="per-request limit testing-req"):
            sdk.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=4000)
        assert len(fake.requests) == sent
        sdk.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=500)  # up to $0.005
    with scope(agent_type="coding"):
        sdk.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=4000)  # not a testing agent
    assert len(fake.requests) == sent + 2


def test_per_run_limits_stop_the_run_in_process(budgets: RunningCollector, agent: Any, fake: Any) -> None:
    import openai
    from spendgate import BudgetExceeded, scope

    # The fake provider reports 1,200 input and 80 output tokens per call: 1,280 tokens.
    api(budgets).post("/api/v1/costs/budgets", json={"id": "run-tokens", "scope_type": "agent", "scope_id": "*",
                                                     "metric": "tokens", "limit": 3000, "period": "run"})
    _until(lambda: any(lim.budget_id == "run-tokens" for lim in agent.table.limits))
    sdk = openai.OpenAI(base_url=fake.url("openai"), api_key="k", max_retries=0)
    with scope(agent="researcher", run="run-1"):
        sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # 2,560 < 3,000: allowed
        with pytest.raises(BudgetExceeded, match="per-run limit run-tokens") as stopped:
            sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert stopped.value.scope_type == "run" and stopped.value.spend == Decimal(3840)
    with scope(agent="researcher", run="run-2"):
        sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # a new run starts afresh
    assert agent.run_spend("run-2")[1] == Decimal(1280)


def test_fail_open_by_default_and_closed_when_asked(fake: Any) -> None:
    import openai
    from spendgate import BudgetExceeded
    from spendgate.instrumentation.configure import enforce_budgets, stop_enforcing
    from spendgate.instrumentation.openai import OpenAIInstrumentor

    from .conftest import free_port

    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument()
    sdk = openai.OpenAI(base_url=fake.url("openai"), api_key="k", max_retries=0)
    nowhere = f"127.0.0.1:{free_port()}"
    try:
        enforce_budgets(nowhere)
        sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # no collector: calls go on
        enforce_budgets(nowhere, fail_closed=True)
        sent = len(fake.requests)
        with pytest.raises(BudgetExceeded, match="unreachable"):
            sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        assert len(fake.requests) == sent
    finally:
        stop_enforcing()
        instrumentor.uninstrument()
