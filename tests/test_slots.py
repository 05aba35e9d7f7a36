"""Concurrency slots (``max_concurrent_agents``, "Queue new runs"): the slot manager on its own, then
real agent processes running ``spendgate.run()`` against a running collector."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from spendgate.collector.budgets.model import Budget
from spendgate.collector.budgets.slots import SlotManager, Waiter
from spendgate.collector.config import BudgetsExtension

from spendgate.proto import flags_pb2 as pb
from spendgate.proto import flags_pb2_grpc

from .conftest import RunningCollector, collector_running, wait_until

TTL = "1s"


def concurrent(budget_id: str, scope_type: str, scope_id: str, limit: int) -> Budget:
    return Budget(
        id=budget_id,
        scope_type=scope_type,  # type: ignore[arg-type]
        scope_id=scope_id,
        metric="runs",
        period="concurrent",
        limit=Decimal(limit),
    )


# -- the slot manager -----------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def manager(budgets: list[Budget], clock: Clock | None = None) -> SlotManager:
    return SlotManager(lambda: budgets, ttl=5.0, recovery=0.0, clock=clock or Clock())


def ask(slots: SlotManager, run_id: str, *scopes: tuple[str, str]) -> tuple[Waiter, list[str]]:
    told: list[str] = []
    return slots.request(list(scopes), run_id, "test", lambda: told.append(run_id)), told


def test_slots_are_granted_atomically_and_in_arrival_order_per_scope() -> None:
    slots = manager([concurrent("g", "global", "", 3), concurrent("p", "project", "*", 1)])
    a, _ = ask(slots, "a", ("project", "x"))
    b, told_b = ask(slots, "b", ("project", "x"))  # project x is full: waits
    c, told_c = ask(slots, "c", ("project", "y"))  # another id of the default: its own slot
    assert (a.granted, b.granted, c.granted) == (True, False, True)
    assert slots.position(b) == 1
    d, told_d = ask(slots, "d", ("project", "z"))
    assert not d.granted  # the last global slot is kept for b, which came first
    assert a.lease is not None and slots.release(a.lease.id)
    assert b.granted and d.granted and told_b == ["b"] and told_d == ["d"]
    assert not slots.release(a.lease.id)  # released once only
    assert told_c == []  # granted at once: not told later


def test_a_later_run_never_overtakes_an_earlier_waiter_for_the_same_slot() -> None:
    budgets = [concurrent("p", "project", "x", 2)]
    slots = manager(budgets)
    first, _ = ask(slots, "first", ("project", "x"))
    second, _ = ask(slots, "second", ("project", "x"))
    third, _ = ask(slots, "third", ("project", "x"))
    assert not third.granted
    budgets[0] = concurrent("p", "project", "x", 3)  # room now, but the queue is served first
    slots._hand_over()
    assert third.granted
    fourth, _ = ask(slots, "fourth", ("project", "x"))
    fifth, _ = ask(slots, "fifth", ("project", "x"))
    assert not fourth.granted and not fifth.granted and slots.position(fifth) == 2
    assert slots.withdraw(fourth) is False  # gave up: fifth moves up
    assert slots.position(fifth) == 1
    assert second.lease is not None and slots.release(second.lease.id)
    assert fifth.granted and first.granted


def test_leases_expire_without_heartbeats_and_hand_over_the_slot() -> None:
    clock = Clock()
    slots = manager([concurrent("a", "agent_type", "coding", 1)], clock)
    holder, _ = ask(slots, "holder", ("agent_type", "coding"))
    waiter, told = ask(slots, "waiter", ("agent_type", "coding"))
    assert holder.lease is not None
    clock.now += 4
    assert slots.heartbeat(holder.lease.id)  # alive: expiry moves on
    clock.now += 4
    assert slots.expire() == 0
    clock.now += 2
    assert slots.expire() == 1 and not slots.heartbeat(holder.lease.id)
    slots._hand_over()
    assert waiter.granted and told == ["waiter"]
    free, _ = ask(slots, "free", ("agent_type", "review"))  # no budget for review: no lease
    assert free.granted and free.lease is None


def test_after_a_restart_running_runs_re_register_before_new_runs_start() -> None:
    clock = Clock()
    budgets = [concurrent("p", "project", "x", 1)]
    slots = SlotManager(lambda: budgets, ttl=5.0, clock=clock)  # recovery: one lease TTL
    new, _ = ask(slots, "new", ("project", "x"))
    assert not new.granted  # still recovering: wait for running runs to heartbeat
    resumed = slots.request([("project", "x")], "old", "test", lambda: None, resume=True)
    assert resumed.granted and resumed.lease is not None
    clock.now += 6
    slots._hand_over()
    assert not new.granted  # recovery over, but the slot is taken by the resumed run
    slots.release(resumed.lease.id)
    assert new.granted


def test_concurrent_budgets_are_validated_and_the_seed_key_maps_to_one() -> None:
    with pytest.raises(ValueError, match="concurrent budget has metric runs"):
        Budget(scope_type="global", metric="runs", period="month", limit=Decimal(5))
    with pytest.raises(ValueError, match="whole number"):
        Budget(scope_type="global", metric="runs", period="concurrent", limit=Decimal("2.5"))
    settings = BudgetsExtension.model_validate({"defaults": [], "max_concurrent_agents": 5})
    (budget,) = settings.defaults
    assert (budget.scope_type, budget.metric, budget.period, budget.limit) == (
        "global",
        "runs",
        "concurrent",
        Decimal(5),
    )


# -- real agent processes --------------------------------------------------------------------------------

AGENT = """
import sys
from spendgate.instrumentation import configure
import spendgate.instrumentation as sgi

endpoint, name, timeout, project, agent_type = sys.argv[1:6]
configure.enforce_budgets(endpoint, agent=name, wait_seconds=10)
scope = {k: v for k, v in (("project", project), ("agent_type", agent_type)) if v != "-"}
sys.stdin.readline()  # the test says when the run begins
try:
    with sgi.run(name, timeout=float(timeout), **scope) as run:
        print("started", run.lease_id or "-", flush=True)
        sys.stdin.readline()  # the test says when the run ends
    print("finished", flush=True)
except sgi.RunQueueTimeout as exc:
    print("timeout", exc.position, flush=True)
"""


@pytest.fixture(scope="module")
def slots_collector(chdb_dsn: str) -> Iterator[RunningCollector]:
    extra = f"extensions:\n  budgets:\n    evaluate_every: 1h\n    defaults: []\n    slot_lease_ttl: {TTL}\n"
    with collector_running(chdb_dsn, extra) as running:
        yield running


class Agent:
    """An agent process running one ``spendgate.run()``; its output lines are collected as they come."""

    def __init__(self, script: Path, endpoint: str, name: str, timeout: float = 60, **scope: str) -> None:
        self.name = name
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, str(script), endpoint, name, str(timeout),
             scope.get("project", "-"), scope.get("agent_type", "-")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        threading.Thread(target=self._read, daemon=True).start()

    def say(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("\n")
        self.process.stdin.flush()

    def begin(self) -> Agent:
        self.say()
        return self

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.strip())

    def said(self, word: str) -> bool:
        return any(line.split()[0] == word for line in self.lines if line)

    def finish(self) -> None:
        self.say()
        wait_until(lambda: self.said("finished"), 20, f"{self.name} to finish")


@pytest.fixture
def agents(slots_collector: RunningCollector, tmp_path: Path) -> Iterator[Any]:
    script = tmp_path / "agent.py"
    script.write_text(AGENT)
    started: list[Agent] = []

    def start(name: str, timeout: float = 60, begin: bool = True, **scope: str) -> Agent:
        agent = Agent(script, f"http://{slots_collector.grpc_endpoint}", name, timeout, **scope)
        started.append(agent)
        return agent.begin() if begin else agent

    yield start
    for agent in started:
        agent.process.kill()
        agent.process.wait(10)


def api(running: RunningCollector) -> httpx.Client:
    return httpx.Client(base_url=running.http_url, timeout=10)


def add_budget(running: RunningCollector, budget: Budget) -> None:
    response = api(running).post("/api/v1/costs/budgets", json=budget.model_dump(mode="json"))
    assert response.status_code == 200, response.text


def slots_view(running: RunningCollector) -> dict[str, Any]:
    response = api(running).get("/api/v1/runs/slots")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def holders(running: RunningCollector) -> set[str]:
    return {holder["run_id"] for holder in slots_view(running)["holders"]}


def queued(running: RunningCollector) -> list[str]:
    return [waiter["run_id"] for waiter in slots_view(running)["queue"]]


def test_a_third_run_waits_for_one_of_two_slots(slots_collector: RunningCollector, agents: Any) -> None:
    add_budget(slots_collector, concurrent("two-at-once", "project", "two", 2))
    first, second, third = (agents(f"two-{n}", project="two") for n in range(3))
    runs = [first, second, third]
    wait_until(lambda: sum(a.said("started") for a in runs) == 2, 30, "two runs to start")
    (waiting,) = [a for a in runs if not a.said("started")]
    wait_until(lambda: queued(slots_collector) == [waiting.name], 10, "the third run in the queue")
    view = slots_view(slots_collector)
    assert {"budget_id": "two-at-once", "scope_id": "two", "held": 2, "limit": 2} in view["held"]
    assert all(h["slots"] == [{"budget_id": "two-at-once", "scope_id": "two"}] for h in view["holders"])
    running = [a for a in runs if a.said("started")]
    running[0].finish()
    wait_until(lambda: waiting.said("started"), 10, "the waiting run to start")
    assert holders(slots_collector) == {running[1].name, waiting.name}
    for agent in (running[1], waiting):
        agent.finish()
    wait_until(lambda: not holders(slots_collector), 10, "every slot released")


def test_waiters_start_in_arrival_order(slots_collector: RunningCollector, agents: Any) -> None:
    add_budget(slots_collector, concurrent("one-at-once", "project", "fifo", 1))
    holder = agents("fifo-0", project="fifo")
    wait_until(lambda: holder.said("started"), 30, "the first run to start")
    waiters = [agents(f"fifo-{n}", begin=False, project="fifo") for n in range(1, 4)]
    for n, waiter in enumerate(waiters):  # each joins the queue after the one before: a known order
        waiter.begin()
        names = [w.name for w in waiters[: n + 1]]
        wait_until(lambda names=names: queued(slots_collector) == names, 30, f"{names} queued")  # type: ignore[misc]
    order = [holder]
    for _ in waiters:
        order[-1].finish()
        wait_until(lambda: sum(w.said("started") for w in waiters) == len(order), 10, "the next run")
        (nxt,) = [w for w in waiters if w.said("started") and w not in order]
        order.append(nxt)
    assert [a.name for a in order] == ["fifo-0", "fifo-1", "fifo-2", "fifo-3"]
    order[-1].finish()


def test_a_waiter_times_out_with_the_exception(slots_collector: RunningCollector, agents: Any) -> None:
    add_budget(slots_collector, concurrent("timeout-one", "project", "tmo", 1))
    holder = agents("tmo-0", project="tmo")
    wait_until(lambda: holder.said("started"), 30, "the first run to start")
    impatient = agents("tmo-1", timeout=0.5, project="tmo")
    wait_until(lambda: impatient.said("timeout"), 30, "the waiter to time out")
    assert impatient.lines[-1] == "timeout 1"  # first in line, and still refused
    assert impatient.process.wait(10) == 0
    assert queued(slots_collector) == []  # it left the queue
    holder.finish()


def test_a_killed_agent_frees_its_slot_after_the_lease_ttl_and_a_killed_waiter_leaves_the_queue(
    slots_collector: RunningCollector, agents: Any
) -> None:
    add_budget(slots_collector, concurrent("kill-one", "project", "kill", 1))
    holder = agents("kill-0", project="kill")
    wait_until(lambda: holder.said("started"), 30, "the first run to start")
    doomed = agents("kill-1", project="kill")
    wait_until(lambda: queued(slots_collector) == ["kill-1"], 30, "the second run queued")
    doomed.process.send_signal(signal.SIGKILL)  # dies while waiting: its Acquire is cancelled
    wait_until(lambda: queued(slots_collector) == [], 10, "the dead waiter to leave the queue")
    heir = agents("kill-2", project="kill")
    wait_until(lambda: queued(slots_collector) == ["kill-2"], 30, "the third run queued")
    holder.process.send_signal(signal.SIGKILL)  # dies holding the slot: no release, no heartbeat
    wait_until(lambda: heir.said("started"), 15, "the slot handed over after the lease TTL")
    assert holders(slots_collector) == {"kill-2"}
    assert slots_collector.collector.budgets is not None
    slots = slots_collector.collector.budgets.slots
    assert slots is not None and slots.expired_total >= 1
    heir.finish()


def test_project_and_agent_type_limits_are_independent(
    slots_collector: RunningCollector, agents: Any
) -> None:
    add_budget(slots_collector, concurrent("alpha-one", "project", "alpha", 1))
    add_budget(slots_collector, concurrent("per-type-one", "agent_type", "*", 1))
    both = agents("ind-0", project="alpha", agent_type="coding")  # holds alpha and coding
    wait_until(lambda: both.said("started"), 30, "the first run to start")
    other = agents("ind-1", project="beta", agent_type="review")  # neither: starts
    same_project = agents("ind-2", project="alpha", agent_type="testing")  # alpha is full
    same_type = agents("ind-3", project="gamma", agent_type="coding")  # coding is full
    unbudgeted = agents("ind-4", project="delta")  # no concurrent budget: no lease at all
    wait_until(lambda: other.said("started") and unbudgeted.said("started"), 30, "free runs to start")
    assert unbudgeted.lines[0] == "started -"
    wait_until(lambda: sorted(queued(slots_collector)) == ["ind-2", "ind-3"], 10, "two runs queued")
    both.finish()
    wait_until(lambda: same_project.said("started") and same_type.said("started"), 10, "both queued runs")
    for agent in (other, same_project, same_type, unbudgeted):
        agent.finish()


def test_bad_acquire_requests_are_refused_by_name(slots_collector: RunningCollector) -> None:
    stub = flags_pb2_grpc.RunSlotsStub(grpc.insecure_channel(slots_collector.grpc_endpoint))
    with pytest.raises(grpc.RpcError) as bad:
        stub.Acquire(pb.AcquireRequest(scopes=[pb.Scope(type="galaxy", id="x")], run_id="r"), timeout=10)
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "galaxy" in (bad.value.details() or "")
    assert not stub.Heartbeat(pb.LeaseRequest(lease_id="nope"), timeout=10).found
    response = api(slots_collector).post(
        "/api/v1/costs/budgets",
        json={"scope_type": "global", "metric": "runs", "period": "day", "limit": 3},
    )
    assert response.status_code == 422 and "concurrent" in response.text


def test_an_unreachable_collector_follows_the_guards_fail_setting() -> None:
    import spendgate.instrumentation as sgi
    from spendgate.instrumentation.configure import enforce_budgets, stop_enforcing

    nowhere = "127.0.0.1:9"
    try:
        enforce_budgets(nowhere)
        with sgi.run("open", timeout=1, project="x") as run:
            assert run.lease_id == ""  # started without a slot
        enforce_budgets(nowhere, fail_closed=True)
        with pytest.raises(sgi.BudgetExceeded, match="fails closed"), sgi.run("closed", timeout=1):
            pass
    finally:
        stop_enforcing()


def test_a_lost_lease_is_re_registered_and_decorated_and_async_runs_hold_slots(
    slots_collector: RunningCollector,
) -> None:
    import asyncio

    import spendgate.instrumentation as sgi
    from spendgate.instrumentation.configure import enforce_budgets, stop_enforcing

    add_budget(slots_collector, concurrent("in-process", "project", "inproc", 1))
    assert slots_collector.collector.budgets is not None
    manager = slots_collector.collector.budgets.slots
    assert manager is not None
    enforce_budgets(slots_collector.grpc_endpoint, agent="in-process", wait_seconds=10)
    try:
        with sgi.run("kept", project="inproc") as run:
            lost = run.lease_id
            assert lost and manager.release(lost)  # what a collector restart does to a lease
            wait_until(lambda: run.lease_id != lost, 10, "the run to re-register")
            assert holders(slots_collector) == {"kept"}
        wait_until(lambda: not holders(slots_collector), 10, "the slot released")

        @sgi.run(timeout=5, project="inproc")
        def job() -> tuple[dict[str, str], set[str]]:
            return sgi.current_attribution(), holders(slots_collector)

        attribution, held = job()
        assert attribution["project"] == "inproc" and held == {attribution["run"]}

        async def task() -> tuple[str, set[str]]:
            async with sgi.run("async-run", project="inproc") as run:
                return run.lease_id, holders(slots_collector)

        lease, held = asyncio.run(task())
        assert lease and held == {"async-run"}
        assert not holders(slots_collector)
    finally:
        stop_enforcing()
