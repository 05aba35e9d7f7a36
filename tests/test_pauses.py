"""Scopes paused by hand: a block independent of spend, pushed to real agent processes, with who and
why, in status and flags, through restarts, API keys and collectors in external mode."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from spendgate.collector.api.auth import digest
from spendgate.collector.budgets.board import FlagBoard
from spendgate.collector.budgets.pauses import PauseStore, ScopePause

from spendgate.flag import PAUSE_METRIC, Flag
from spendgate.proto import flags_pb2 as pb
from spendgate.proto import flags_pb2_grpc

from .collector_process import agent_command, fake_provider  # noqa: F401 (the fixture `fake`)
from .conftest import RunningCollector, collector_running, start_collector, wait_until

# A model priced at zero: a budget lets its calls through, a pause must not.
CONFIG = """
processors:
  pricing:
    models: [{model: free-model, provider: openai}]
extensions:
  budgets:
    evaluate_every: 1h
    defaults: []
"""


@pytest.fixture(scope="module")
def running(chdb_dsn: str) -> Iterator[RunningCollector]:
    """One collector for the module's tests; each test leaves no scope paused."""
    with collector_running(chdb_dsn, CONFIG) as collector:
        yield collector


def api(running: RunningCollector) -> httpx.Client:
    return httpx.Client(base_url=running.http_url, timeout=10)


def _cli(running: RunningCollector, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "spendgate", *args, "--url", running.http_url]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


AGENT = """
import sys, time
import openai
import spendgate
from spendgate.instrumentation import configure

configure.instrument("paused-agent", sys.argv[2], spool_dir=sys.argv[3])
client = openai.OpenAI(base_url=sys.argv[1], api_key="k", max_retries=0)
calls, blocked = 0, False
deadline = time.monotonic() + 60
with spendgate.scope(project="fleet", agent="looper"):
    while time.monotonic() < deadline:
        try:
            client.chat.completions.create(model="free-model", messages=[{"role": "user", "content": "hi"}])
        except spendgate.BudgetExceeded as exc:
            if not blocked:
                print("blocked", type(exc).__name__, exc, flush=True)
            blocked = True
            continue
        calls += 1
        if blocked:
            print("resumed", flush=True)
            break
        if calls == 1:
            print("running", flush=True)
        time.sleep(0.01)
configure.flush()
"""


def test_a_paused_agent_process_stops_at_once_even_for_free_calls_and_runs_after_unpause(
    running: RunningCollector, fake: Any, tmp_path: Path
) -> None:
    agent = subprocess.Popen(
        agent_command(AGENT, tmp_path, fake.url("openai"), running.grpc_endpoint),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert agent.stdout is not None and agent.stdout.readline().strip() == "running"
        paused = api(running).post("/api/admin/agents/looper/pause", json={"reason": "runaway loop"})
        assert paused.status_code == 200, paused.text
        data = paused.json()["data"]  # the seed's envelope (api/seed_admin.py)
        assert data["state"] == "paused" and data["changed_by"] == "api"
        # The agent's next free call after the pushed flag raises, naming who and why.
        assert agent.stdout.readline().rstrip("\n").split(maxsplit=2) == [
            "blocked",
            "ScopePaused",
            "agent 'looper' is paused (paused by api: runaway loop)",
        ]
        assert api(running).post("/api/admin/agents/looper/unpause").json()["data"]["paused"] is False
        assert agent.stdout.readline().strip() == "resumed"
        assert agent.wait(timeout=60) == 0
    finally:
        agent.kill()


def test_any_scope_type_can_be_paused_and_shows_in_flags_status_check_and_reservations(
    running: RunningCollector,
) -> None:
    client = api(running)
    answer = client.post("/api/v1/scopes/project/checkout/pause", json={"reason": "audit"})
    assert answer.status_code == 200, answer.text
    listed = client.get("/api/v1/scopes/paused", params={"scope_type": "project"}).json()["paused"]
    assert [(p["scope_id"], p["reason"], p["changed_by"]) for p in listed] == [("checkout", "audit", "api")]
    flag = next(f for f in client.get("/v1/flags").json()["flags"] if f["scope_id"] == "checkout")
    assert (flag["budget_id"], flag["metric"], flag["state"]) == ("pause/project", PAUSE_METRIC, "block")
    status = client.get("/api/v1/costs/budgets/status", params={"scope_type": "project"}).json()
    assert [(p["scope_id"], p["state"], p["reason"]) for p in status["paused"]] == [
        ("checkout", "paused", "audit")
    ]
    checked = client.get(
        "/api/v1/costs/budgets/check", params={"scope_type": "project", "scope_id": "checkout"}
    )
    assert checked.json()["allowed"] is False and "paused by api: audit" in checked.json()["reason"]
    stub = flags_pb2_grpc.BudgetFlagsStub(grpc.insecure_channel(running.grpc_endpoint))
    scopes = [pb.Scope(type="global", id=""), pb.Scope(type="project", id="checkout")]
    assert not stub.Check(pb.CheckRequest(scopes=scopes)).allowed
    reserved = stub.Reserve(pb.ReserveRequest(scopes=scopes, amount="0.01"))  # strict mode refuses too
    assert not reserved.granted and reserved.reason == "paused by api: audit"
    assert stub.Reserve(pb.ReserveRequest(scopes=scopes[:1], amount="0.01")).granted
    assert client.post("/api/v1/scopes/project/checkout/unpause").json()["paused"] is False
    assert client.get("/api/v1/scopes/paused").json()["paused"] == []
    again = client.post("/api/v1/scopes/project/checkout/unpause").json()  # idempotent: nothing written
    assert again["paused"] is False and "version" not in again
    # The global scope has its own path; everything stops, then runs again.
    assert client.post("/api/v1/scopes/global/pause").json()["scope_id"] == ""
    assert not stub.Check(pb.CheckRequest(scopes=scopes[:1])).allowed
    client.post("/api/v1/scopes/global/unpause")
    assert stub.Check(pb.CheckRequest(scopes=scopes[:1])).allowed
    history = running.rows(
        "SELECT version, paused, reason FROM {db}.scope_pauses WHERE scope_id = 'checkout' ORDER BY version"
    )
    assert history == [(1, True, "audit"), (2, False, "")]


def test_bad_scopes_and_bodies_are_refused_with_422(running: RunningCollector) -> None:
    client = api(running)
    unknown = client.post("/api/v1/scopes/galaxy/x/pause")
    assert unknown.status_code == 422 and "scope_type" in unknown.text
    assert client.post("/api/v1/scopes/global/x/pause").status_code == 422
    assert "has no id" in client.post("/api/v1/scopes/global/x/pause").json()["detail"]
    assert client.post("/api/v1/scopes/agent/%20/pause").status_code == 422
    assert "pause global to stop all" in client.post("/api/admin/agents/*/pause").json()["detail"]
    assert client.post("/api/admin/agents/a/pause", json={"why": "typo"}).status_code == 422
    assert client.post("/api/admin/agents/a/pause", json={"reason": "x" * 501}).status_code == 422
    assert client.get("/api/v1/scopes/paused", params={"scope_type": "galaxy"}).status_code == 422
    assert client.get("/api/v1/scopes/paused").json()["paused"] == []


def test_cli_pauses_lists_and_unpauses_and_budgets_disable_is_the_old_pause(
    running: RunningCollector, capsys: pytest.CaptureFixture[str]
) -> None:
    from spendgate.collector.cli import main

    def cli(*args: str) -> tuple[int, str, str]:
        code = main([*args, "--url", running.http_url])  # the command's own client, in this process
        out, err = capsys.readouterr()
        return code, out.strip(), err.strip()

    assert cli("pause", "agent", "triage", "--reason", "cost spike") == (
        0,
        "paused agent triage (by cli)",
        "",
    )
    listed = cli("paused")[1].splitlines()
    assert listed[1].split()[:2] == ["agent", "triage"] and listed[1].endswith("cli  cost spike")
    shown = cli("budgets", "status")[1]
    assert "PAUSED agent triage since" in shown and "by cli: cost spike" in shown
    assert cli("unpause", "agent", "triage")[1] == "unpaused agent triage"
    assert cli("paused")[1] == "no scope is paused"
    code, _, err = cli("pause", "agent")
    assert code == 1 and "needs the agent's id" in err
    api(running).post("/api/v1/costs/budgets", json={"id": "cap", "scope_type": "global", "limit": "5"})
    assert cli("budgets", "disable", "cap")[1] == "budget cap: disable done"
    assert api(running).get("/api/v1/costs/budgets/cap").json()["active"] is False
    assert cli("budgets", "enable", "--id", "cap")[0] == 0
    assert api(running).get("/api/v1/costs/budgets/cap").json()["active"] is True
    # The older API names of the budget switch still work.
    assert api(running).post("/api/v1/costs/budgets/cap/pause").json()["active"] is False
    assert api(running).post("/api/v1/costs/budgets/cap/resume").json()["active"] is True
    api(running).delete("/api/v1/costs/budgets/cap")


KEYS = {"ops-key": ("sg_ops", "admin"), "agent-key": ("sg_agent", "ingest")}
AUTH = (
    CONFIG
    + "  auth:\n    api_keys:\n"
    + "".join(
        f"      - {{name: {name}, sha256: {digest(key)}, roles: [{role}]}}\n"
        for name, (key, role) in KEYS.items()
    )
)


def test_the_key_name_is_recorded_and_a_pause_survives_a_restart_into_external_mode(chdb_dsn: str) -> None:
    from spendgate.collector.app import Collector
    from spendgate.collector.config import parse_config

    from .conftest import collector_yaml, free_port, stop_collector

    collector, thread, database = start_collector(chdb_dsn, AUTH)
    first = RunningCollector(collector, chdb_dsn, database)
    url = "/api/admin/agents/looper/pause"
    assert api(first).post(url).status_code == 401
    assert api(first).post(url, headers={"Authorization": "Bearer sg_agent"}).status_code == 403  # ingest
    ops = {"Authorization": "Bearer sg_ops"}
    paused = api(first).post(url, json={"reason": "runaway loop"}, headers=ops)
    assert paused.json()["data"]["changed_by"] == "ops-key"
    collector.request_stop()
    thread.join(30)
    # The same database, now served by a collector in external mode: it reads pauses from the table.
    external = AUTH.replace("evaluate_every: 1h", "evaluate_every: 100ms\n    evaluator: external")
    again = Collector(parse_config(collector_yaml(chdb_dsn, database, free_port(), free_port(), external)))
    second = RunningCollector(again, chdb_dsn, database)
    thread = again.serve_in_thread()
    try:

        def served() -> list[tuple[str, str]]:
            flags = api(second).get("/v1/flags", headers=ops).json()["flags"]
            return [(f["scope_id"], f["reason"]) for f in flags]

        assert served() == [("looper", "paused by ops-key: runaway loop")]
        assert again.storage is not None
        other = PauseStore(again.storage)  # another collector, on the same database
        other.unpause("agent", "looper", "ops")
        other.pause("team", "red", "drill", "ops")
        wait_until(
            lambda: served() == [("red", "paused by ops: drill")], what="the other collector's changes"
        )
    finally:
        stop_collector(second, thread)


def _pause(scope_id: str, reason: str) -> Flag:
    return ScopePause("agent", scope_id, 1, True, reason, "ops", datetime.now(UTC)).flag()


def test_a_full_evaluation_does_not_drop_pauses_and_an_unpause_bumps_the_version() -> None:
    board = FlagBoard()
    budget = Flag(
        "cap", "global", "", "cost", "block", Decimal(2), Decimal(1), Decimal(200), Decimal(0), None
    )
    board.update([budget], replace_all=True)
    assert board.set_pauses([_pause("a", "loop")])
    assert not board.set_pauses([_pause("a", "loop")])  # the same pause: no new version, nobody woken
    board.update([], replace_all=True)  # the evaluator drops the budget flag, never the pause
    snapshot = board.snapshot()
    assert [(f.budget_id, f.scope_id) for f in snapshot.flags] == [("pause/agent", "a")]
    assert board.pause_of([("agent", "a")]) is not None and board.pause_of([("agent", "b")]) is None
    version = board.version
    assert board.set_pauses([]) and board.version == version + 1 and board.flags() == []


def test_the_pauses_table_has_a_distributed_twin_on_clusters() -> None:
    from spendgate.collector.storage import migration_statements

    from spendgate import queries

    ddl = {m.name: s for m, s in migration_statements(queries.SchemaOptions(database="m", cluster="prod"))}
    assert (
        "CREATE TABLE IF NOT EXISTS `m`.scope_pauses_local ON CLUSTER `prod`" in ddl["0017_scope_pauses"][0]
    )
    twin = ddl["0018_scope_pauses_distributed"][0]
    assert "AS `m`.scope_pauses_local" in twin and "Distributed('prod', `m`, scope_pauses_local)" in twin
    single = {m.name for m, _ in migration_statements(queries.SchemaOptions())}
    assert "0017_scope_pauses" in single and "0018_scope_pauses_distributed" not in single
