"""Override requests on a running collector: a hard budget blocks, an agent or a user asks for more,
an admin approves (the block lifts until the extra is spent too) or denies (it stays); the allowance
ends with the period; every version is kept with who; the API, the CLI, API keys and an agent process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import grpc
import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from spendgate.collector.api.auth import digest
from spendgate.collector.budgets.model import Budget, flag_of, state_of
from spendgate.collector.budgets.overrides import OverrideRequest, period_end, with_overrides

from spendgate.money import money_text
from spendgate.proto import flags_pb2 as pb
from spendgate.proto import flags_pb2_grpc

from .conftest import (
    RunningCollector,
    chat_attributes,
    clear_of_midnight,
    collector_running,
    make_spans,
    wait_until,
)

ONE_CALL = Decimal("0.0045")  # one gpt-4o call of chat_attributes()
CONFIG = "extensions:\n  budgets:\n    evaluate_every: 1h\n    defaults: []\n"


@pytest.fixture(scope="module")
def running(chdb_dsn: str) -> Iterator[RunningCollector]:
    """One collector for the module; it evaluates only when told (a change), so blocks come from the
    fast path and lifts from the evaluation an override triggers."""
    with collector_running(chdb_dsn, CONFIG) as collector:
        yield collector


def send(running: RunningCollector, count: int, project: str) -> None:
    spans = make_spans(
        [{"attributes": chat_attributes(**{"spendgate.project": project})} for _ in range(count)]
    )
    assert GrpcExporter(endpoint=running.grpc_endpoint, insecure=True).export(spans).name == "SUCCESS"


def api(running: RunningCollector) -> httpx.Client:
    return httpx.Client(base_url=running.http_url, timeout=30)


def flag(running: RunningCollector, budget_id: str, scope_id: str) -> dict[str, Any] | None:
    found = [f for f in api(running).get("/v1/flags").json()["flags"] if f["budget_id"] == budget_id]
    return next((f for f in found if f["scope_id"] == scope_id), None)


def blocked(running: RunningCollector, budget_id: str, scope_id: str) -> bool:
    current = flag(running, budget_id, scope_id)
    return current is not None and current["state"] == "block"


def watched_block(running: RunningCollector, budget_id: str) -> bool:
    """Whether the first snapshot a new gRPC Watch stream sends has a block flag of the budget."""
    with grpc.insecure_channel(running.grpc_endpoint) as channel:
        stream = flags_pb2_grpc.BudgetFlagsStub(channel).Watch(pb.WatchRequest(agent="test"), timeout=10)
        snapshot = next(iter(stream))
        stream.cancel()
    return any(f.budget_id == budget_id and f.state == "block" for f in snapshot.flags)


def hard_budget(running: RunningCollector, budget_id: str, scope_id: str, **more: Any) -> None:
    body = {"id": budget_id, "scope_type": "project", "scope_id": scope_id, "limit": str(ONE_CALL * 10)}
    response = api(running).post("/api/v1/costs/budgets", json=body | {"grace_percent": 0, **more})
    assert response.status_code == 200, response.text


def test_approve_lifts_the_block_until_the_extra_is_spent_and_deny_keeps_it(
    running: RunningCollector,
) -> None:
    clear_of_midnight(before=5, after=120)
    client = api(running)
    hard_budget(running, "ov", "ovp", period="day")
    send(running, 10, "ovp")
    wait_until(lambda: blocked(running, "ov", "ovp"), what="the block")

    asked = client.post(
        "/api/v1/costs/budgets/ov/override-requests",
        json={"amount": str(ONE_CALL * 5), "reason": "finish the release", "requested_by": "agent-7"},
    )
    assert asked.status_code == 201, asked.text
    request = asked.json()
    assert (request["status"], request["requested_by"], request["scope_id"]) == ("pending", "agent-7", "ovp")
    blocking = flag(running, "ov", "ovp")
    assert blocking is not None and f"override request {request['id']} pending" in blocking["reason"]

    other = client.post(
        "/api/v1/costs/budgets/ov/override-requests", json={"amount": "1", "reason": "more"}
    ).json()
    denied = client.post(
        f"/api/v1/costs/override-requests/{other['id']}/deny", json={"note": "not this week"}
    )
    assert denied.status_code == 200 and denied.json()["status"] == "denied"
    assert blocked(running, "ov", "ovp") and watched_block(running, "ov")  # a denial keeps the block
    for action, body in (("deny", {"note": "again"}), ("approve", {})):  # decided once, for good
        again = client.post(f"/api/v1/costs/override-requests/{other['id']}/{action}", json=body)
        assert again.status_code == 409 and "denied already" in again.json()["detail"]

    approved = client.post(
        f"/api/v1/costs/override-requests/{request['id']}/approve",
        json={"amount": str(ONE_CALL * 3), "note": "ok"},
    ).json()
    assert (approved["status"], Decimal(approved["granted"]), approved["note"]) == (
        "approved",
        ONE_CALL * 3,
        "ok",
    )
    assert flag(running, "ov", "ovp") is None or not blocked(running, "ov", "ovp")
    assert not watched_block(running, "ov")  # pushed: a new Watch stream has no block flag
    limit = client.get("/api/v1/costs/budgets/ov").json()["limit"]
    assert limit == money_text(ONE_CALL * 10)  # later periods unchanged

    send(running, 2, "ovp")  # 12 calls: under limit + grace + 3
    assert not blocked(running, "ov", "ovp")
    send(running, 1, "ovp")  # 13: the allowance is spent too
    wait_until(lambda: blocked(running, "ov", "ovp"), what="the block after the allowance")
    current = flag(running, "ov", "ovp")
    assert current is not None and "$0.01 more approved for this period" in current["reason"]

    history = client.get(f"/api/v1/costs/override-requests/{request['id']}").json()["history"]
    assert [(v["version"], v["status"], v["requested_by"], v["decided_by"]) for v in history] == [
        (1, "pending", "agent-7", None),
        (2, "approved", "agent-7", "api"),
    ]
    assert (
        Decimal(history[0]["amount"]) == Decimal(history[1]["amount"]) == ONE_CALL * 5
    )  # asked; granted is separate
    pending = client.get(
        "/api/v1/costs/override-requests", params={"status": "pending", "budget_id": "ov"}
    ).json()
    assert pending["override_requests"] == []
    decided = client.get("/api/v1/costs/override-requests", params={"budget_id": "ov"}).json()[
        "override_requests"
    ]
    assert sorted(r["status"] for r in decided) == ["approved", "denied"]


def test_a_reset_starts_a_period_without_the_allowance(running: RunningCollector) -> None:
    clear_of_midnight(before=5, after=120)
    client = api(running)
    hard_budget(running, "reset-ov", "rsp", period="day")
    send(running, 10, "rsp")
    wait_until(lambda: blocked(running, "reset-ov", "rsp"), what="the block")
    request = client.post(
        "/api/v1/costs/budgets/reset-ov/override-requests", json={"amount": str(ONE_CALL * 5), "reason": "r"}
    ).json()
    client.post(f"/api/v1/costs/override-requests/{request['id']}/approve")
    assert not blocked(running, "reset-ov", "rsp")
    assert client.post("/api/v1/costs/budgets/reset-ov/reset").status_code == 200
    send(running, 10, "rsp")  # the limit again, counted from the reset: no allowance left
    wait_until(lambda: blocked(running, "reset-ov", "rsp"), what="the block in the new period")


def test_the_allowance_ends_with_its_period() -> None:
    day = Budget(
        id="d", scope_type="project", scope_id="p", limit=Decimal(10), grace_percent=Decimal(0), period="day"
    )
    rolling = Budget(
        id="r", scope_type="project", scope_id="p", limit=Decimal(10), period="rolling", rolling_hours=6
    )
    noon = datetime(2026, 3, 4, 12, tzinfo=UTC)
    assert period_end(day, noon) == datetime(2026, 3, 5, tzinfo=UTC)
    assert period_end(rolling, noon) == noon + timedelta(hours=6)
    approved = OverrideRequest(
        "q", 2, "d", "p", Decimal(5), "why", "agent", "approved", Decimal(4), period_end(day, noon),
        "admin", noon, "", noon,
    )  # fmt: skip
    today = with_overrides([day], [approved], noon + timedelta(hours=11))[0]
    assert today.block_point() == Decimal(14) and state_of(today, Decimal(13), noon)[0] != "block"
    assert "$4.00 more approved" in flag_of(today, "p", Decimal(13), noon, noon).reason
    tomorrow = with_overrides([day], [approved], noon + timedelta(hours=12))[0]
    assert tomorrow.block_point() == Decimal(10) and state_of(tomorrow, Decimal(13), noon)[0] == "block"
    assert Budget.model_validate_json(today.model_dump_json()).block_point() == Decimal(10)  # never stored


def test_default_budgets_take_requests_per_scope(running: RunningCollector) -> None:
    client = api(running)
    hard_budget(running, "every", "*", period="day")
    clear_of_midnight(before=5, after=120)
    send(running, 10, "dfa")
    send(running, 10, "dfb")
    wait_until(lambda: blocked(running, "every", "dfa") and blocked(running, "every", "dfb"), what="blocks")
    missing = client.post(
        "/api/v1/costs/budgets/every/override-requests", json={"amount": "1", "reason": "r"}
    )
    assert missing.status_code == 422 and "give the scope_id" in missing.json()["detail"]
    request = client.post(
        "/api/v1/costs/budgets/every/override-requests",
        json={"amount": "1", "reason": "r", "scope_id": "dfa"},
    ).json()
    client.post(f"/api/v1/costs/override-requests/{request['id']}/approve", json={"note": "just a"})
    assert not blocked(running, "every", "dfa") and blocked(running, "every", "dfb")
    assert client.delete("/api/v1/costs/budgets/every").status_code == 204  # the other tests' projects too


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        (
            "/api/v1/costs/budgets/nope/override-requests",
            {"amount": "1", "reason": "r"},
            404,
            "no budget 'nope'",
        ),
        ("/api/v1/costs/budgets/soft/override-requests", {"amount": "1", "reason": "r"}, 422, "is soft"),
        (
            "/api/v1/costs/budgets/per-call/override-requests",
            {"amount": "1", "reason": "r"},
            422,
            "per-request",
        ),
        (
            "/api/v1/costs/budgets/soft/override-requests",
            {"amount": "-1", "reason": "r"},
            422,
            "greater than 0",
        ),
        ("/api/v1/costs/budgets/soft/override-requests", {"amount": "x", "reason": "r"}, 422, "decimal"),
        ("/api/v1/costs/budgets/soft/override-requests", {"amount": "1"}, 422, "reason"),
        ("/api/v1/costs/budgets/soft/override-requests", {"amount": "1", "reason": "r", "x": 1}, 422, "x"),
        ("/api/v1/costs/override-requests/nope/approve", {}, 404, "no override request 'nope'"),
        ("/api/v1/costs/override-requests/nope/deny", {}, 422, "note"),
    ],
)
def test_bad_requests_name_the_problem(
    running: RunningCollector, path: str, body: dict[str, Any], status: int, message: str
) -> None:
    client = api(running)
    if client.get("/api/v1/costs/budgets/soft").status_code == 404:
        hard_budget(running, "soft", "softp", hard=False)
        hard_budget(running, "per-call", "pc", period="request")
    answer = client.post(path, json=body)
    assert answer.status_code == status and message in str(answer.json()["detail"]), answer.text
    assert client.get("/api/v1/costs/override-requests/nope").status_code == 404


def test_cli_requests_lists_approves_and_denies(
    running: RunningCollector, capsys: pytest.CaptureFixture[str]
) -> None:
    from spendgate.collector.cli import main

    def cli(*args: str) -> tuple[int, str, str]:
        code = main(["overrides", *args, "--url", running.http_url])
        out, err = capsys.readouterr()
        return code, out, err

    hard_budget(running, "cli-ov", "clip")
    code, out, err = cli("request", "cli-ov", "--amount", "2.50", "--reason", "demo day", "--json")
    assert code == 0, err
    first = json.loads(out)["id"]
    second = json.loads(cli("request", "cli-ov", "--amount", "1", "--reason", "r", "--json")[1])["id"]
    code, out, _ = cli("list", "--status", "pending", "--budget", "cli-ov")
    assert code == 0 and first in out and second in out and "demo day" in out
    code, out, err = cli("approve", first, "--amount", "2", "--note", "go")
    assert code == 0 and "v1" in out and "approved by cli: go" in out, err
    assert cli("deny", second)[0] == 1  # a denial says why
    code, out, _ = cli("deny", second, "--note", "no")
    assert code == 0 and "denied by cli: no" in out
    code, _, err = cli("approve", second)
    assert code == 1 and "409" in err and "denied already" in err
    code, out, _ = cli("show", first)
    assert code == 0 and "pending by cli" in out and "approved by cli: go" in out  # v1, v2
    assert first not in cli("list", "--status", "pending")[1]


KEYS = {"ingest": "sg_agent", "read": "sg_read", "admin": "sg_admin"}
AUTH = (
    CONFIG
    + "  auth:\n    api_keys:\n"
    + "".join(
        f"      - {{name: {role}, sha256: {digest(key)}, roles: [{role}]}}\n" for role, key in KEYS.items()
    )
)


def test_agents_ingest_keys_may_ask_and_follow_only_admins_decide(chdb_dsn: str) -> None:
    with collector_running(chdb_dsn, AUTH) as guarded:
        client = api(guarded)

        def as_(role: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {KEYS[role]}"}

        body = {"id": "keyed", "scope_type": "global", "limit": "1"}
        assert client.post("/api/v1/costs/budgets", json=body, headers=as_("admin")).status_code == 200
        asked = client.post(
            "/api/v1/costs/budgets/keyed/override-requests",
            json={"amount": "1", "reason": "r"},
            headers=as_("ingest"),
        )
        assert asked.status_code == 201, asked.text
        path = f"/api/v1/costs/override-requests/{asked.json()['id']}"
        assert client.get(path, headers=as_("ingest")).status_code == 200  # an agent follows its request
        assert client.get("/api/v1/costs/override-requests", headers=as_("ingest")).status_code == 403
        assert client.get("/api/v1/costs/override-requests", headers=as_("read")).status_code == 200
        for role in ("ingest", "read"):
            assert client.post(path + "/approve", headers=as_(role)).status_code == 403
        assert client.post(path + "/approve").status_code == 401
        assert client.post(path + "/approve", headers=as_("admin")).json()["status"] == "approved"


AGENT = """
import sys, time
import openai
import spendgate
import spendgate.instrumentation as sgi

sgi.instrument("override-agent", sys.argv[2], spool_dir=sys.argv[4])
client = openai.OpenAI(base_url=sys.argv[1], api_key="k", max_retries=0)


def call() -> None:
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])


with spendgate.scope(project="agentp"):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            call()
        except spendgate.BudgetExceeded as exc:
            ticket = sgi.request_override(exc.budget_id, "1.00", "one more try", scope_id=exc.scope_id,
                                          requested_by="override-agent", api_url=sys.argv[3])
            print("requested", ticket.id, ticket.status, exc.budget_id, flush=True)
            break
        time.sleep(0.02)
    decided = sgi.wait_for_decision(ticket.id, timeout=60, poll=0.1, api_url=sys.argv[3])
    print(decided.status, decided.granted, flush=True)
    while time.monotonic() < deadline:
        try:
            call()
            print("resumed", flush=True)
            break
        except spendgate.BudgetExceeded:
            time.sleep(0.02)
sgi.flush()
"""


def test_a_blocked_agent_process_asks_and_resumes_once_approved(
    running: RunningCollector, tmp_path: Any
) -> None:
    from spendgate.instrumentation.fake_provider import FakeProvider

    hard_budget(running, "agent-ov", "agentp", period="day")
    send(running, 10, "agentp")
    wait_until(lambda: blocked(running, "agent-ov", "agentp"), what="the block")
    script = tmp_path / "agent.py"
    script.write_text(AGENT)
    with FakeProvider() as fake:
        agent = subprocess.Popen(
            [sys.executable, str(script), fake.url("openai"), f"http://{running.grpc_endpoint}", running.http_url,
             str(tmp_path / "spool")],
            stdout=subprocess.PIPE, text=True, env={**os.environ, "OTEL_EXPORTER_OTLP_INSECURE": "true"},
        )  # fmt: skip
        try:
            assert agent.stdout is not None
            words = agent.stdout.readline().split()
            assert words[0] == "requested" and words[2:] == ["pending", "agent-ov"], words
            request = api(running).get(f"/api/v1/costs/override-requests/{words[1]}").json()
            assert (request["requested_by"], request["reason"], request["amount"]) == (
                "override-agent",
                "one more try",
                "1",
            )
            approve = api(running).post(f"/api/v1/costs/override-requests/{words[1]}/approve")
            assert approve.status_code == 200, approve.text
            rest = agent.communicate(timeout=60)[0].split()
        finally:
            agent.kill()
    assert rest == ["approved", "1", "resumed"], rest
    assert agent.returncode == 0


def test_cluster_ddl_of_the_override_requests() -> None:
    from spendgate.collector.storage import migration_statements

    from spendgate import queries

    ddl = {m.name: s for m, s in migration_statements(queries.SchemaOptions(database="m", cluster="prod"))}
    table = ddl["0019_budget_override_requests"][0]
    assert (
        "`m`.budget_override_requests_local ON CLUSTER `prod`" in table
        and "ReplicatedReplacingMergeTree" in table
    )
    distributed = ddl["0020_budget_override_requests_distributed"][0]
    assert "Distributed('prod', `m`, budget_override_requests_local, cityHash64(id))" in distributed
