"""Budgets end to end on a running collector: API, evaluation, fast path, flags over gRPC,
the agent's guard in front of real SDK calls, overrides, alerts and notifications."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from spendgate.collector.cli.money import usd

from spendgate.proto import flags_pb2 as pb
from spendgate.proto import flags_pb2_grpc

from .conftest import (
    RunningCollector,
    chat_attributes,
    collector_running,
    make_spans,
    start_collector,
    wait_until,
)

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
    with collector_running(chdb_dsn, NO_DEFAULTS.format(every=every, more=more)) as running:
        yield running


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


def _settled_evaluations(running: RunningCollector) -> int:
    """Wait for the evaluation a budget change triggers; returns the evaluation count after it."""
    evaluator = running.collector.budgets.evaluator
    runs, stable_since = evaluator.runs, time.monotonic()
    while time.monotonic() - stable_since < 0.5:
        time.sleep(0.05)
        if evaluator.runs != runs:
            runs, stable_since = evaluator.runs, time.monotonic()
    return runs


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
    assert created.status_code == 200, created.text
    assert created.json()["limit"] == "2.5" and created.json()["grace_percent"] == "10"
    assert (
        client.post(
            "/api/v1/costs/budgets", json={"id": "t1", "scope_type": "global", "limit": 1}
        ).status_code
        == 409
    )
    bad = client.post("/api/v1/costs/budgets", json={"scope_type": "project", "limit": 5})
    assert bad.status_code == 422 and "needs a scope_id" in bad.json()["detail"]
    taken = client.post("/api/v1/costs/budgets", json={"id": "status", "scope_type": "global", "limit": 5})
    assert taken.status_code == 422 and "cannot be a budget id" in taken.json()["detail"]
    assert client.put("/api/v1/costs/budgets/t1", json={"limit": "4"}).json()["limit"] == "4"
    assert client.post("/api/v1/costs/budgets/t1/pause").json()["active"] is False
    assert client.post("/api/v1/costs/budgets/t1/resume").json()["active"] is True
    listed = client.get("/api/v1/costs/budgets", params={"scope_type": "ticket"}).json()
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
    body = api(running).get("/api/v1/costs/budgets").json()
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
        == 200
    )
    runs = _settled_evaluations(budgets)
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
    client.post(
        "/api/v1/costs/budgets",
        json={
            "id": "alpha-cap",
            "scope_type": "project",
            "scope_id": "alpha",
            "limit": str(ONE_CALL * 4),
            "grace_percent": 0,
        },
    )
    sdk = openai.OpenAI(base_url=fake.url("openai"), api_key="k", max_retries=0)
    with scope(project="alpha", agent="coder"):
        sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # allowed
        send(budgets, 4, **{"spendgate.project": "alpha"})  # spend arrives from elsewhere in the fleet
        wait_until(lambda: bool(agent.table.flags_for([("project", "alpha")])))
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
    assert (
        client.post("/api/v1/costs/budgets/alpha-cap/override", json={"unblock_for_minutes": 60}).status_code
        == 200
    )
    wait_until(lambda: not any(f.state == "block" for f in agent.table.flags_for([("project", "alpha")])))
    with scope(project="alpha"):
        sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)


def test_warnings_are_logged_once_added_as_span_events_and_passed_to_the_callback(
    budgets: RunningCollector, agent: Any, fake: Any
) -> None:
    import openai

    from spendgate import scope

    api(budgets).post(
        "/api/v1/costs/budgets",
        json={"id": "team-cap", "scope_type": "team", "scope_id": "ml", "limit": str(ONE_CALL * 10)},
    )
    send(budgets, 9, **{"spendgate.team": "ml"})
    wait_until(lambda: bool(agent.table.flags_for([("team", "ml")])))
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

    api(budgets).post(
        "/api/v1/costs/budgets",
        json={
            "id": "testing-req",
            "scope_type": "agent_type",
            "scope_id": "testing",
            "limit": "0.01",
            "period": "request",
        },
    )
    wait_until(lambda: any(lim.budget_id == "testing-req" for lim in agent.table.limits))
    sdk = openai.OpenAI(base_url=fake.url("openai"), api_key="k", max_retries=0)
    sent = len(fake.requests)
    with scope(agent_type="testing"):
        # gpt-4o: 4,000 output tokens could cost $0.04.
        with pytest.raises(BudgetExceeded, match="per-request limit testing-req") as refused:
            sdk.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=4000)
        assert len(fake.requests) == sent
        # Nothing was spent: the message names the worst case as this call's estimate.
        error = refused.value
        assert error.spend == 0 and error.estimate is not None and error.estimate > Decimal("0.04")
        assert str(error).startswith(
            f"budget exceeded for agent_type 'testing': this call's estimated cost ${error.estimate:.6f}".rstrip(
                "0"
            )
        )
        assert "exceeds the $0.01 per-request limit" in str(error) and "spent" not in str(error)
        sdk.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=500)  # up to $0.005
    with scope(agent_type="coding"):
        sdk.chat.completions.create(model="gpt-4o", messages=MESSAGES, max_tokens=4000)  # not a testing agent
    assert len(fake.requests) == sent + 2


def test_per_run_limits_stop_the_run_in_process(budgets: RunningCollector, agent: Any, fake: Any) -> None:
    import openai

    from spendgate import BudgetExceeded, scope

    # The fake provider reports 1,200 input and 80 output tokens per call: 1,280 tokens.
    api(budgets).post(
        "/api/v1/costs/budgets",
        json={
            "id": "run-tokens",
            "scope_type": "agent",
            "scope_id": "*",
            "metric": "tokens",
            "limit": 3000,
            "period": "run",
        },
    )
    wait_until(lambda: any(lim.budget_id == "run-tokens" for lim in agent.table.limits))
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
    from spendgate.instrumentation.configure import enforce_budgets, stop_enforcing
    from spendgate.instrumentation.openai import OpenAIInstrumentor

    from spendgate import BudgetExceeded

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


# -- alerts and notifications ----------------------------------------------------------------------------


class _Hook(BaseHTTPRequestHandler):
    received: list[tuple[str, Any]] = []
    fail_first = 0

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if type(self).fail_first > 0:  # a flaky endpoint: the notifier retries
            type(self).fail_first -= 1
            self.send_response(503)
            self.end_headers()
            return
        type(self).received.append((self.path, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[str]:
    _Hook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def smtp() -> Iterator[tuple[int, list[Any]]]:
    from aiosmtpd.controller import Controller

    from .conftest import free_port

    messages: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            messages.append(envelope)
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port, messages
    controller.stop()


def test_threshold_alerts_with_cooldown_reach_webhooks_and_email(
    chdb_dsn: str, hook: str, smtp: tuple[int, list[Any]]
) -> None:
    port, mails = smtp
    _Hook.fail_first = 1
    more = f"""
    alerts:
      cooldown: 1h
      notifications:
        webhooks:
          - url: {hook}/json
          - url: {hook}/slack
            format: slack
        email:
          smtp_host: 127.0.0.1
          smtp_port: {port}
          sender: spendgate@example.com
          recipients: [admin@example.com]
"""
    for running in _collector(chdb_dsn, more=more):
        runtime = running.collector.budgets
        assert runtime is not None and runtime.evaluator is not None
        api(running).post(
            "/api/v1/costs/budgets",
            json={
                "id": "ticket-cap",
                "scope_type": "ticket",
                "scope_id": "AUTH-42",
                "limit": str(ONE_CALL * 10),
            },
        )
        send(running, 5, **{"spendgate.ticket": "AUTH-42"})
        runtime.evaluator.run_once()
        send(running, 3, **{"spendgate.ticket": "AUTH-42"})
        runtime.evaluator.run_once()
        runtime.evaluator.run_once()  # nothing new crossed: no new alert
        listed = api(running).get("/api/v1/alerts").json()["alerts"]
        assert sorted(
            (a["threshold"], a["level"], a["scope_id"]) for a in listed if a["kind"] == "threshold"
        ) == [(50, "info", "AUTH-42"), (80, "warning", "AUTH-42")]
        # A reset drops the spend to zero; crossing 50 % again within the hour raises nothing.
        api(running).post("/api/v1/costs/budgets/ticket-cap/reset")
        runtime.evaluator.run_once()
        send(running, 6, **{"spendgate.ticket": "AUTH-42"})
        runtime.evaluator.run_once()
        listed = api(running).get("/api/v1/alerts").json()["alerts"]
        assert len([a for a in listed if a["kind"] == "threshold"]) == 2
        wait_until(lambda: len(_Hook.received) == 4 and len(mails) == 2)
    by_path = {path: [body for p, body in _Hook.received if p == path] for path in ("/json", "/slack")}
    assert [b["threshold"] for b in by_path["/json"]] == [50, 80]
    assert by_path["/json"][1]["level"] == "warning" and by_path["/json"][1]["scope_id"] == "AUTH-42"
    assert by_path["/slack"][0]["text"].startswith(
        ":information_source: spendgate info: 50% of the ticket AUTH-42"
    )
    assert "spendgate warning" in mails[1].content.decode() and mails[0].rcpt_tos == ["admin@example.com"]


def test_anomaly_alert_when_today_is_over_twice_the_trailing_average(chdb_dsn: str) -> None:
    from .test_budgets import _span_at

    # One call is $0.0045: the minimum is set between three and four calls' spend.
    for running in _collector(chdb_dsn, more='    alerts:\n      anomaly_min_spend: "0.015"\n'):
        api(running).post(
            "/api/v1/costs/budgets",
            json={"id": "agent-cap", "scope_type": "agent", "scope_id": "crawler", "limit": 100},
        )
        now = datetime.now(UTC)
        history = [_span_at(now - timedelta(days=d), **{"spendgate.agent": "crawler"}) for d in (1, 2, 3)]
        assert GrpcExporter(endpoint=running.grpc_endpoint, insecure=True).export(history).name == "SUCCESS"
        runtime = running.collector.budgets
        assert runtime is not None and runtime.evaluator is not None
        runtime.evaluator.run_once()  # today 0: no anomaly
        send(running, 3, **{"spendgate.agent": "crawler"})  # 3 calls today against 1 a day before
        runtime.evaluator._alerts._next_anomaly_check = None  # the check runs once a minute
        runtime.evaluator.run_once()
        alerts = api(running).get("/api/v1/alerts").json()["alerts"]
        assert [a for a in alerts if a["kind"] == "anomaly"] == []  # 300 %, but $0.0135 is below the minimum
        send(running, 1, **{"spendgate.agent": "crawler"})  # $0.018: over the minimum
        runtime.evaluator._alerts._next_anomaly_check = None
        runtime.evaluator.run_once()
        anomalies = [a for a in api(running).get("/api/v1/alerts").json()["alerts"] if a["kind"] == "anomaly"]
        assert len(anomalies) == 1
        assert anomalies[0]["scope_id"] == "crawler" and anomalies[0]["utilization"] == "400.00"
        assert "400% of its trailing daily average" in anomalies[0]["message"]


# -- strict mode ------------------------------------------------------------------------------------------


def test_strict_reservations_never_let_concurrent_calls_overshoot(budgets: RunningCollector) -> None:
    from concurrent.futures import ThreadPoolExecutor

    api(budgets).post(
        "/api/v1/costs/budgets",
        json={
            "id": "hard",
            "scope_type": "project",
            "scope_id": "strict",
            "limit": "1.00",
            "grace_percent": 0,
        },
    )
    time.sleep(0.3)
    stub = flags_pb2_grpc.BudgetFlagsStub(grpc.insecure_channel(budgets.grpc_endpoint))
    scopes = [pb.Scope(type="project", id="strict")]

    def reserve(_: int) -> pb.ReserveResponse:
        return stub.Reserve(pb.ReserveRequest(scopes=scopes, amount="0.10"), timeout=10)

    with ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(reserve, range(40)))
    granted = [r for r in replies if r.granted]
    assert len(granted) == 10  # 10 x $0.10 fill the $1.00 exactly; the other 30 are refused
    refused = next(r for r in replies if not r.granted)
    assert refused.blocking.budget_id == "hard" and "held by calls in flight" in refused.reason
    # Settling at the actual cost frees the difference for others.
    for reply in granted:
        assert stub.Settle(pb.SettleRequest(reservation_id=reply.reservation_id, actual_cost="0.05")).found
    assert sum(reserve(0).granted for _ in range(12)) == 5  # $0.50 settled and held: room for 5 more
    assert not stub.Settle(pb.SettleRequest(reservation_id="nope", actual_cost="1")).found
    with pytest.raises(grpc.RpcError) as bad:
        stub.Reserve(pb.ReserveRequest(scopes=scopes, amount="-1"))
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_strict_mode_counts_a_settled_call_once_when_its_span_arrives(
    budgets: RunningCollector, fake: Any
) -> None:
    import openai
    from spendgate.instrumentation.configure import enforce_budgets, make_tracer_provider, stop_enforcing
    from spendgate.instrumentation.openai import OpenAIInstrumentor
    from spendgate.instrumentation.recorder import RECORDER

    from spendgate import BudgetExceeded, scope

    # gpt-4o-mini with 1,200 in / 80 out costs $0.000228; max_tokens=100 makes the worst case about $0.00024.
    api(budgets).post(
        "/api/v1/costs/budgets",
        json={
            "id": "strict-cap",
            "scope_type": "project",
            "scope_id": "exact",
            "limit": "0.0011",
            "grace_percent": 0,
        },
    )
    provider = make_tracer_provider(
        "strict-agent",
        f"http://{budgets.grpc_endpoint}",
        schedule_delay_millis=20,
        spool_dir=f"/tmp/spendgate-strict-{time.time_ns()}",
    )
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    guard = enforce_budgets(budgets.grpc_endpoint, strict=True, wait_seconds=10)
    sdk = openai.OpenAI(base_url=fake.url("openai"), api_key="k", max_retries=0)
    allowed = 0
    refused = BudgetExceeded("project", "exact", Decimal(0), Decimal(0))
    try:
        with scope(project="exact"):
            for _ in range(10):
                try:
                    sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, max_tokens=100)
                    allowed += 1
                except BudgetExceeded as exc:
                    refused = exc
                    break
        RECORDER.flush()
        provider.force_flush()
    finally:
        stop_enforcing()
        instrumentor.uninstrument()
        provider.shutdown()
    # Each call reserves its worst case (a few prompt tokens, 100 output: about $0.00006) and settles
    # about $0.00021 (the fake provider reports 1,200 prompt tokens). After 4 calls a 5th still fits;
    # after 5 nothing does. The overshoot is less than one call's estimate error.
    assert guard.strict and allowed == 5
    # The reservation was refused on the call's estimate beside what was spent and held (the spans of the
    # settled calls may not be counted yet: their amounts are held until they are).
    message = str(refused)
    assert refused.estimate is not None and refused.scope_id == "exact"
    assert "this call's estimated cost $0.0000" in message and "does not fit in the $0.0011 limit" in message
    assert "held by calls in flight" in message
    wait_until(lambda: budgets.scalar("SELECT count() FROM {db}.llm_spans WHERE project = 'exact'") == 6)
    stored = budgets.rows(
        "SELECT reservation_id != '', total_cost FROM {db}.llm_spans WHERE project = 'exact'"
    )
    one = max(cost for _, cost in stored)  # the fake provider's usage, priced by the collector
    assert sorted(stored) == [(False, 0)] + [(True, one)] * 5  # the refused call is a $0 span
    live = budgets.collector.budgets.live
    wait_until(lambda: live.reservations_held == 0)  # every settled amount was released by its stored span


# -- real agent processes ---------------------------------------------------------------------------------

AGENT_SCRIPT = """
import sys, time
import openai
import spendgate
from spendgate.instrumentation import configure

{setup}
client = openai.OpenAI(base_url=sys.argv[1], api_key="k", max_retries=0)
with spendgate.scope(project="fleet", agent=sys.argv[2]):
    calls = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            client.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": "hi"}}])
        except spendgate.BudgetExceeded as exc:
            print("blocked", calls, exc.scope_type, exc.scope_id, flush=True)
            break
        calls += 1
        if calls == 1:
            print("running", flush=True)
        time.sleep(0.01)
configure.flush()
"""


def test_flags_reach_real_agent_processes_over_grpc(
    budgets: RunningCollector, fake: Any, tmp_path: Any
) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    api(budgets).post(
        "/api/v1/costs/budgets",
        json={
            "id": "fleet",
            "scope_type": "project",
            "scope_id": "fleet",
            "limit": "1.00",
            "grace_percent": 0,
        },
    )
    endpoint = f"http://{budgets.grpc_endpoint}"
    one_call = tmp_path / "one_call.py"  # instrument() in code
    one_call.write_text(
        AGENT_SCRIPT.format(
            setup=f"configure.instrument('fleet-a', {endpoint!r}, spool_dir={str(tmp_path / 'spool')!r})"
        )
    )
    zero_code = tmp_path / "zero_code.py"  # opentelemetry-instrument, budgets from the environment
    zero_code.write_text(AGENT_SCRIPT.format(setup=""))
    env = {**os.environ, "OTEL_SERVICE_NAME": "fleet-b", "OTEL_TRACES_EXPORTER": "otlp",
           "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
           "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_INSECURE": "true",
           "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "openai,openai_v2"}  # fmt: skip
    instrument_cmd = str(Path(sys.executable).parent / "opentelemetry-instrument")
    agents = [
        subprocess.Popen([sys.executable, str(one_call), fake.url("openai"), "a"], stdout=subprocess.PIPE,
                         text=True, env=env),
        subprocess.Popen([instrument_cmd, sys.executable, str(zero_code), fake.url("openai"), "b"],
                         stdout=subprocess.PIPE, text=True, env=env),
    ]  # fmt: skip
    try:
        for process in agents:
            assert process.stdout is not None and process.stdout.readline().strip() == "running"
        send(budgets, 250, **{"spendgate.project": "fleet"})  # the rest of the fleet spends $1.125
        outputs = [process.communicate(timeout=60)[0].split() for process in agents]
    finally:
        for process in agents:
            process.kill()
    for output in outputs:
        assert output[0] == "blocked" and output[2:] == ["project", "fleet"], output
    assert all(process.returncode == 0 for process in agents)


# -- the command line and the external evaluator ----------------------------------------------------------


def _cli(running: RunningCollector, *args: str) -> Any:
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "spendgate", *args, "--url", running.http_url],
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_cli_manages_budgets_and_shows_flags_and_alerts(budgets: RunningCollector) -> None:
    created = _cli(
        budgets,
        "budgets",
        "create",
        "--id",
        "cli",
        "--scope-type",
        "agent",
        "--scope-id",
        "bot",
        "--limit",
        str(ONE_CALL * 2),
        "--period",
        "day",
        "--timezone",
        "Asia/Tokyo",
        "--grace",
        "0",
    )
    assert created.returncode == 0 and created.stdout.strip() == "created budget cli", created.stderr
    send(budgets, 2, **{"spendgate.agent": "bot"})
    listed = _cli(budgets, "budgets", "list")
    assert listed.returncode == 0
    row = next(line.split() for line in listed.stdout.splitlines() if line.startswith("cli "))
    assert row == ["cli", "agent", "bot", "day", usd(ONE_CALL * 2, exact=True), "hard", "active", "block"]
    runtime = budgets.collector.budgets
    assert runtime is not None and runtime.evaluator is not None
    runtime.evaluator.run_once()  # this collector evaluates only when told; status snapshots come from it
    status = _cli(budgets, "budgets", "status", "--scope-type", "agent")
    assert status.returncode == 0, status.stderr
    row = next(line.split() for line in status.stdout.splitlines() if line.startswith("BLOCK"))
    assert row[:5] == ["BLOCK", "agent", "bot", "cli", "day"] and row[7] == "100%"
    shown = _cli(budgets, "flags")
    assert "BLOCK  agent  bot" in shown.stdout and "blocked: $0.01 of $0.01 spent" in shown.stdout
    assert _cli(budgets, "budgets", "override", "--id", "cli", "--limit", "5").returncode == 0
    assert _cli(budgets, "budgets", "disable", "cli").stdout.strip() == "budget cli: disable done"
    as_json = json.loads(_cli(budgets, "budgets", "list", "--json").stdout)
    assert [(b["limit"], b["active"]) for b in as_json] == [("5", False)]
    missing = _cli(budgets, "budgets", "delete", "--id", "nope")
    assert missing.returncode == 1 and "404 no budget 'nope'" in missing.stderr
    invalid = _cli(budgets, "budgets", "create", "--scope-type", "project", "--limit", "5")
    assert invalid.returncode == 1 and "needs a scope_id" in invalid.stderr
    assert _cli(budgets, "alerts").returncode == 0
    assert _cli(budgets, "budgets", "delete", "--id", "cli").stdout.strip() == "deleted budget cli"


def test_external_evaluator_flags_are_served_by_collectors(chdb_dsn: str) -> None:
    from spendgate.collector.budgets.runtime import BudgetRuntime

    external = "    evaluator: external\n"
    for running in _collector(chdb_dsn, every="100ms", more=external):
        assert running.collector.budgets is not None and running.collector.budgets.evaluator is None
        api(running).post(
            "/api/v1/costs/budgets",
            json={"id": "ext", "scope_type": "global", "limit": str(ONE_CALL), "grace_percent": 0},
        )
        send(running, 1)
        assert flags(running) == {}  # this collector does not evaluate
        storage = running.collector.storage
        assert storage is not None
        settings = running.collector.config.extensions.budgets.model_copy(update={"evaluator": "embedded"})
        evaluator = BudgetRuntime(storage, settings, fast_path=False)  # what `spendgate evaluator` runs
        evaluator.open()
        try:
            wait_until(lambda running=running: flags(running).get(("ext", ""), {}).get("state") == "block")
        finally:
            evaluator.close()


def test_unsettled_reservations_expire_and_check_answers_for_scopes(chdb_dsn: str) -> None:
    for running in _collector(chdb_dsn, more="    reservation_ttl: 300ms\n"):
        api(running).post(
            "/api/v1/costs/budgets",
            json={"id": "ttl", "scope_type": "user", "scope_id": "ann", "limit": "1", "grace_percent": 0},
        )
        _settled_evaluations(running)
        stub = flags_pb2_grpc.BudgetFlagsStub(grpc.insecure_channel(running.grpc_endpoint))
        scopes = [pb.Scope(type="user", id="ann")]
        assert stub.Reserve(pb.ReserveRequest(scopes=scopes, amount="0.9")).granted
        assert not stub.Reserve(pb.ReserveRequest(scopes=scopes, amount="0.2")).granted
        time.sleep(0.4)  # the first agent died without settling: its hold lapses
        assert stub.Reserve(pb.ReserveRequest(scopes=scopes, amount="0.2")).granted
        send(running, 250, **{"spendgate.user": "ann"})  # $1.125: blocked
        answer = stub.Check(pb.CheckRequest(scopes=scopes))
        assert not answer.allowed and answer.flags[0].budget_id == "ttl" and "blocked" in answer.reason
        assert stub.Check(pb.CheckRequest(scopes=[pb.Scope(type="user", id="bob")])).allowed
        checked = api(running).get(
            "/api/v1/costs/budgets/check", params={"scope_type": "user", "scope_id": "ann"}
        )
        assert checked.json()["allowed"] is False


def test_the_agent_reconnects_after_a_collector_restart(chdb_dsn: str) -> None:
    from spendgate.collector.app import Collector
    from spendgate.collector.config import parse_config
    from spendgate.instrumentation.flags_client import FlagSubscriber, FlagTable

    from .conftest import collector_yaml, free_port

    grpc_port, http_port, database = free_port(), free_port(), "t_reconnect_" + str(time.time_ns())[-8:]
    config = parse_config(collector_yaml(chdb_dsn, database, grpc_port, http_port,
                                         NO_DEFAULTS.format(every="100ms", more="")))  # fmt: skip

    def serve() -> tuple[Collector, threading.Thread]:
        collector = Collector(config)
        return collector, collector.serve_in_thread()

    first, thread = serve()
    table = FlagTable()
    subscriber = FlagSubscriber(f"127.0.0.1:{grpc_port}", table).start()
    try:
        assert subscriber.wait_synced(10)
        first.request_stop()
        thread.join(30)
        wait_until(lambda: not table.connected)
        second, thread = serve()
        running = RunningCollector(second, chdb_dsn, database)
        api(running).post("/api/v1/costs/budgets", json={"id": "g", "scope_type": "global", "limit": "0.001"})
        send(running, 1)
        wait_until(lambda: table.connected and bool(table.flags_for([("global", "")])))
        assert table.flags_for([("global", "")])[0].state == "block" and subscriber.reconnects >= 1
        second.request_stop()
        thread.join(30)
    finally:
        subscriber.stop()


def test_fast_path_counts_rolling_windows_too(budgets: RunningCollector) -> None:
    api(budgets).post("/api/v1/costs/budgets", json={"id": "roll", "scope_type": "model", "scope_id": "gpt-4o",
                                                     "limit": str(ONE_CALL * 2), "period": "rolling",
                                                     "rolling_hours": 24, "grace_percent": 0})  # fmt: skip
    runs = _settled_evaluations(budgets)
    send(budgets, 2)
    assert flags(budgets)[("roll", "gpt-4o")]["state"] == "block"
    assert budgets.collector.budgets.evaluator.runs == runs


def test_budget_status_ends_when_the_last_budget_goes(budgets: RunningCollector) -> None:
    runtime = budgets.collector.budgets
    assert runtime is not None and runtime.evaluator is not None
    client = api(budgets)
    assert (
        client.post(
            "/api/v1/costs/budgets", json={"id": "only", "scope_type": "global", "limit": 1}
        ).status_code
        == 200
    )
    runtime.evaluator.run_once()
    scopes = client.get("/api/v1/costs/budgets/status").json()["scopes"]
    assert [(s["budget_id"], s["state"]) for s in scopes] == [("only", "ok")]
    assert client.delete("/api/v1/costs/budgets/only").status_code == 204
    runtime.evaluator.run_once()
    # The newest snapshot is empty, not the last one that had the budget in it.
    empty = {"evaluated_at": None, "scopes": [], "paused": []}
    assert client.get("/api/v1/costs/budgets/status").json() == empty
