"""The ``RunSlots`` gRPC service (spendgate/proto/flags.proto): concurrency slots for runs.

``Acquire`` is held open until the run's slots are granted or its wait is over;
a call the agent cancels (or whose connection drops: the agent died) leaves the
queue, and a slot granted in the same instant is given back.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import grpc
from spendgate.collector.budgets.slots import Scope, SlotManager, Waiter

from spendgate.dimensions import SCOPE_TYPES
from spendgate.proto import flags_pb2 as pb
from spendgate.proto import flags_pb2_grpc

MAX_WAIT_MS = 24 * 3600 * 1000  # a day; longer waits are refused as a mistake
_MAX_TEXT = 256


def _scopes(request: pb.AcquireRequest) -> list[Scope]:
    """The request's scopes; ValueError names the first bad one."""
    scopes: list[Scope] = []
    for scope in request.scopes:
        if scope.type not in SCOPE_TYPES:
            raise ValueError(f"unknown scope type {scope.type!r}; expected one of {', '.join(SCOPE_TYPES)}")
        if (scope.type == "global") != (not scope.id):
            raise ValueError(f"scope {scope.type!r}: only global has an empty id")
        if len(scope.id) > _MAX_TEXT:
            raise ValueError(f"scope {scope.type!r}: the id is longer than {_MAX_TEXT} characters")
        scopes.append((scope.type, scope.id))
    if request.wait_ms > MAX_WAIT_MS:
        raise ValueError(f"wait_ms {request.wait_ms} is more than a day")
    if len(request.run_id) > _MAX_TEXT or len(request.holder) > _MAX_TEXT:
        raise ValueError(f"run_id and holder are at most {_MAX_TEXT} characters")
    return scopes


class RunSlotsService(flags_pb2_grpc.RunSlotsServicer):
    def __init__(self, slots: SlotManager) -> None:
        self.slots = slots

    def _granted(self, waiter: Waiter, started: float) -> pb.AcquireResponse:
        return pb.AcquireResponse(
            granted=True,
            lease_id=waiter.lease.id if waiter.lease else "",
            ttl_ms=int(self.slots.ttl * 1000),
            waited_ms=int((time.monotonic() - started) * 1000),
        )

    async def Acquire(self, request: pb.AcquireRequest, context: Any) -> pb.AcquireResponse:  # noqa: N802
        try:
            scopes = _scopes(request)
        except ValueError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        started = time.monotonic()
        loop = asyncio.get_running_loop()
        granted = asyncio.Event()

        def notify() -> None:  # called from whichever thread freed the slot
            loop.call_soon_threadsafe(granted.set)

        waiter = self.slots.request(scopes, request.run_id, request.holder, notify, resume=request.resume)
        try:
            if not waiter.granted:
                await asyncio.wait_for(granted.wait(), request.wait_ms / 1000)
        except TimeoutError:
            pass
        except asyncio.CancelledError:  # the agent gave up or died while waiting
            if self.slots.withdraw(waiter) and waiter.lease is not None:
                self.slots.release(waiter.lease.id)
            raise
        position = self.slots.position(waiter)
        if self.slots.withdraw(waiter):
            return self._granted(waiter, started)
        where = ", ".join(f"{budget} ({scope or 'global'})" for budget, scope in waiter.keys)
        return pb.AcquireResponse(
            granted=False,
            position=position,
            reason=f"no free slot of {where} within {request.wait_ms} ms",
            waited_ms=int((time.monotonic() - started) * 1000),
        )

    async def Heartbeat(self, request: pb.LeaseRequest, context: Any) -> pb.LeaseResponse:  # noqa: N802
        return pb.LeaseResponse(found=self.slots.heartbeat(request.lease_id))

    async def Release(self, request: pb.LeaseRequest, context: Any) -> pb.LeaseResponse:  # noqa: N802
        return pb.LeaseResponse(found=await asyncio.to_thread(self.slots.release, request.lease_id))


def add_to_server(server: Any, slots: SlotManager) -> None:
    flags_pb2_grpc.add_RunSlotsServicer_to_server(RunSlotsService(slots), server)
