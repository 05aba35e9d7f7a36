"""Concurrency slots for benchmarks/enforcement.py: hand-over time and queue wait, over real gRPC.

- hand-over: a run holds the only slot, another waits in ``Acquire``; from the
  holder's ``Release`` call to the moment the waiter's ``Acquire`` returns granted;
- queue wait: ``clients`` threads (one gRPC channel each) loop acquire, hold
  ``hold_ms``, release on ``slots`` slots; each acquire's wait as the collector
  reports it (``waited_ms``), against the ideal mean ``(clients / slots - 1) * hold``;
- baseline: an uncontended ``Acquire`` + ``Release`` round trip, same collector, same run.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from typing import Any

import grpc
import httpx

from spendgate.proto import flags_pb2 as pb
from spendgate.proto import flags_pb2_grpc


def _stub(endpoint: str) -> Any:
    return flags_pb2_grpc.RunSlotsStub(grpc.insecure_channel(endpoint))


def _request(project: str, run: str, wait_ms: int) -> pb.AcquireRequest:
    return pb.AcquireRequest(scopes=[pb.Scope(type="project", id=project)], run_id=run, wait_ms=wait_ms)


def _budget(http_url: str, project: str, limit: int) -> None:
    body = {"id": project, "scope_type": "project", "scope_id": project, "metric": "runs",
            "period": "concurrent", "limit": limit}  # fmt: skip
    httpx.post(f"{http_url}/api/v1/costs/budgets", json=body, timeout=30).raise_for_status()


def _uncontended(stub: Any, project: str, count: int) -> list[float]:
    samples = []
    deadline = time.monotonic() + 60  # a fresh collector admits new runs only after one lease TTL
    while not stub.Acquire(_request(project, "warm-up", 0)).granted and time.monotonic() < deadline:
        time.sleep(0.2)
    for n in range(count):
        start = time.perf_counter()
        reply = stub.Acquire(_request(project, f"solo-{n}", 0))
        stub.Release(pb.LeaseRequest(lease_id=reply.lease_id))
        samples.append(time.perf_counter() - start)
    return samples


def _wait(stub: Any, request: pb.AcquireRequest, got: dict[str, Any]) -> None:
    got["reply"] = stub.Acquire(request)
    got["at"] = time.perf_counter()


def _handovers(endpoint: str, project: str, count: int) -> list[float]:
    holder, waiter = _stub(endpoint), _stub(endpoint)
    lease = holder.Acquire(_request(project, "holder", 10_000)).lease_id
    samples = []
    for n in range(count):
        got: dict[str, Any] = {}
        thread = threading.Thread(target=_wait, args=(waiter, _request(project, f"waiter-{n}", 30_000), got))
        thread.start()
        time.sleep(0.05)  # the waiter is queued (a grant before the release would show as 0 below)
        released = time.perf_counter()
        holder.Release(pb.LeaseRequest(lease_id=lease))
        thread.join(30)
        samples.append(got["at"] - released)
        lease = got["reply"].lease_id
        holder, waiter = waiter, holder  # the new holder releases next
    holder.Release(pb.LeaseRequest(lease_id=lease))
    return samples


def _queue_waits(endpoint: str, project: str, clients: int, runs: int, hold_ms: int) -> list[float]:
    waits: list[float] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        stub = _stub(endpoint)
        for n in range(runs):
            reply = stub.Acquire(_request(project, f"c{index}-{n}", 60_000))
            with lock:
                waits.append(reply.waited_ms / 1000)
            time.sleep(hold_ms / 1000)
            stub.Release(pb.LeaseRequest(lease_id=reply.lease_id))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    return waits


def measure(endpoint: str, http_url: str, handovers: int = 40, clients: int = 8, slots: int = 2,
            runs: int = 15, hold_ms: int = 20) -> dict[str, Any]:  # fmt: skip
    tag = uuid.uuid4().hex[:8]
    solo, one, pool = f"slots-solo-{tag}", f"slots-one-{tag}", f"slots-pool-{tag}"
    _budget(http_url, solo, 1)
    _budget(http_url, one, 1)
    _budget(http_url, pool, slots)
    stub = _stub(endpoint)
    return {
        "uncontended": statistics.median(_uncontended(stub, solo, 100)),
        "handovers": _handovers(endpoint, one, handovers),
        "waits": _queue_waits(endpoint, pool, clients, runs, hold_ms),
        "ideal_wait": max(clients / slots - 1, 0) * hold_ms / 1000,
        "clients": clients,
        "slots": slots,
        "hold_ms": hold_ms,
    }
