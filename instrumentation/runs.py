"""``spendgate.run()``: a run that takes a concurrency slot from the collector before it starts.

with spendgate.run(project="checkout", agent_type="coding", timeout=300):
    ...  # at most N such runs of the scope at once; the rest wait their turn

The run enters ``spendgate.scope(run=<id>, ...)`` and asks the collector
(``RunSlots.Acquire`` on the flag subscriber's channel) for a slot of every
concurrent budget of its scopes. When one is full the call waits in the
collector's queue, in arrival order, up to ``timeout`` seconds, then raises
:class:`RunQueueTimeout`. A daemon thread heartbeats the lease; the slot is
given back on exit, exception or not, and freed by the collector if the process
dies. With no concurrent budget for its scopes the run starts at once.

If the collector cannot be asked (unreachable, budgets off, a collector that
does not evaluate budgets) the run starts without a slot, or, when the guard
fails closed, raises :class:`BudgetExceeded`. When a heartbeat finds its lease
gone (the collector restarted) the run re-registers, counted at once.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import threading
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import grpc

from spendgate.dimensions import SCOPE_TYPES
from spendgate.proto import flags_pb2 as pb

from . import configure, enforcement
from .attribution import current_attribution, scope
from .budget_guard import BudgetGuard
from .enforcement import BudgetExceeded

logger = logging.getLogger("spendgate.instrumentation")
F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_TIMEOUT = 600.0
_RPC_MARGIN = 10.0  # seconds of network time on top of the wait


class RunQueueTimeout(BudgetExceeded):
    """The run waited ``timeout`` seconds for a concurrency slot and did not get one; it did not start."""

    def __init__(self, run_id: str, waited: float, position: int, reason: str) -> None:
        self.run_id = run_id
        self.waited = waited
        self.position = position  # 1 + the runs that were still ahead of it
        self.scope_type, self.scope_id = "run", run_id
        self.limit = self.spend = Decimal(0)
        self.reason = reason
        Exception.__init__(
            self,
            f"run {run_id!r} waited {waited:.1f} s for a slot ({reason}; position {position} in the queue)",
        )


def _scopes() -> list[pb.Scope]:
    scopes = [pb.Scope(type="global", id="")]
    for name, value in current_attribution().items():
        if name in SCOPE_TYPES and name != "global" and value:
            scopes.append(pb.Scope(type=name, id=value))
    return scopes


class _Slot:
    """A granted lease and the thread that heartbeats it."""

    def __init__(self, stub: Any, metadata: Any, request: pb.AcquireRequest, response: pb.AcquireResponse):
        self.stub, self.metadata, self.request = stub, metadata, request
        self.lease_id = response.lease_id
        self.interval = max(response.ttl_ms / 3000, 0.05)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="spendgate-run-heartbeat", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                found = self.stub.Heartbeat(
                    pb.LeaseRequest(lease_id=self.lease_id), timeout=self.interval, metadata=self.metadata
                ).found
                if not found:  # the collector restarted (or took the slot back): be counted again
                    resume = pb.AcquireRequest()
                    resume.CopyFrom(self.request)
                    resume.resume, resume.wait_ms = True, 0
                    reply = self.stub.Acquire(resume, timeout=self.interval, metadata=self.metadata)
                    self.lease_id = reply.lease_id
                    logger.info("spendgate: run %r re-registered its slot", self.request.run_id)
            except grpc.RpcError as exc:
                logger.debug("spendgate: heartbeat of run %r failed: %s", self.request.run_id, exc)

    def release(self) -> None:
        self._stop.set()
        self._thread.join(self.interval + 1)
        try:
            self.stub.Release(pb.LeaseRequest(lease_id=self.lease_id), timeout=5, metadata=self.metadata)
        except grpc.RpcError as exc:  # the lease expires on its own
            logger.debug("spendgate: could not release the slot of run %r: %s", self.request.run_id, exc)


def _acquire(run_id: str, timeout: float) -> _Slot | None:
    """Wait for the run's slots; None when no lease is needed (no budget) or the collector can't be asked."""
    subscriber = configure.flag_subscriber()
    if subscriber is None:
        return None
    request = pb.AcquireRequest(
        scopes=_scopes(), run_id=run_id, holder=subscriber.agent, wait_ms=int(max(timeout, 0) * 1000)
    )
    try:
        reply = subscriber.slots.Acquire(request, timeout=timeout + _RPC_MARGIN, metadata=subscriber.metadata)
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
            raise ValueError(f"spendgate.run(): {exc.details()}") from None
        guard = enforcement.installed_guard()
        if isinstance(guard, BudgetGuard) and guard.fail_closed:
            reason = f"the slot service is unavailable ({exc.code()}) and the guard fails closed"
            raise BudgetExceeded("collector", "", Decimal(0), Decimal(0), reason=reason) from None
        logger.warning("spendgate: run %r starts without a slot: %s", run_id, exc.code())
        return None
    if not reply.granted:
        raise RunQueueTimeout(run_id, reply.waited_ms / 1000, reply.position, reply.reason)
    if not reply.lease_id:
        return None
    return _Slot(subscriber.slots, subscriber.metadata, request, reply)


class run:  # noqa: N801 - used like a function: ``with spendgate.run(...)``
    """A run: ``spendgate.scope(run=run_id, **dimensions)`` that first takes a concurrency slot.

    ``timeout`` is how long to wait for a slot (seconds) before :class:`RunQueueTimeout`.
    Also a decorator of sync and async functions: every call is a run of its own.
    """

    def __init__(self, run_id: str | None = None, *, timeout: float = DEFAULT_TIMEOUT, **dimensions: object):
        self._fixed_id = run_id
        self.run_id = run_id or uuid.uuid4().hex
        self.timeout = timeout
        self.dimensions = dimensions
        self._scope = scope(run=self.run_id, **dimensions)  # unknown dimensions fail here, not later
        self._slot: _Slot | None = None

    def __enter__(self) -> run:
        self._scope.__enter__()
        try:
            self._slot = _acquire(self.run_id, self.timeout)
        except BaseException:
            self._scope.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            if self._slot is not None:
                self._slot.release()
                self._slot = None
        finally:
            self._scope.__exit__(*exc_info)

    async def __aenter__(self) -> run:
        self._scope.__enter__()
        try:
            self._slot = await asyncio.to_thread(_acquire, self.run_id, self.timeout)
        except BaseException:
            self._scope.__exit__(None, None, None)
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            if self._slot is not None:
                await asyncio.to_thread(self._slot.release)
                self._slot = None
        finally:
            self._scope.__exit__(*exc_info)

    @property
    def lease_id(self) -> str:
        """The lease held now; empty when the run holds none."""
        return self._slot.lease_id if self._slot is not None else ""

    def _fresh(self) -> run:
        return run(self._fixed_id, timeout=self.timeout, **self.dimensions)

    def __call__(self, func: F) -> F:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                async with self._fresh():
                    return await func(*args, **kwargs)

            return run_async  # type: ignore[return-value]

        @functools.wraps(func)
        def run_sync(*args: Any, **kwargs: Any) -> Any:
            with self._fresh():
                return func(*args, **kwargs)

        return run_sync  # type: ignore[return-value]
