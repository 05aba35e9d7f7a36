"""The agent's copy of the budget flags, kept current by a background subscriber.

:class:`FlagSubscriber` holds a gRPC ``Watch`` stream open to the collector
and replaces the :class:`FlagTable` with every snapshot it receives (flags, the
limits the agent enforces and the collector's price overrides). When the
stream breaks it reconnects: gRPC's own connection backoff paces the retries
(``wait_for_ready``), and errors the server returns are retried after a
growing pause. Checks read the table only; they never wait on the network.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from decimal import Decimal

import grpc

from spendgate.flag import Flag
from spendgate.pricing import Pricer
from spendgate.proto import flags_pb2 as pb
from spendgate.proto import flags_pb2_grpc

from . import prices

logger = logging.getLogger("spendgate.instrumentation")

_CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 5000),
    ("grpc.keepalive_time_ms", 30000),
    ("grpc.keepalive_permit_without_calls", 1),
]
Scope = tuple[str, str]


@dataclass(frozen=True)
class CallLimit:
    budget_id: str
    scope_type: str
    scope_id: str  # "*": every id of the type
    period: str  # request, run or rolling (a rate limit: metric calls)
    metric: str
    limit: Decimal
    hard: bool
    window_seconds: int = 0  # rolling only
    block_at: Decimal = Decimal(0)  # rolling only: this many calls in the window block the next


class FlagTable:
    """Flags by scope; replaced whole, read without locks."""

    def __init__(self) -> None:
        self.by_scope: dict[Scope, list[Flag]] = {}
        self.limits: tuple[CallLimit, ...] = ()
        self.limit_index: dict[Scope, list[CallLimit]] = {}  # (type, id or "*") -> limits
        # Prices estimates and per-run spend; built-in defaults until a snapshot brings the collector's.
        self.pricer = Pricer()
        self.version = -1
        self.connected = False
        self.synced_at = 0.0  # monotonic time of the last snapshot; 0 before the first
        self.disconnected_at = time.monotonic()

    def apply(self, snapshot: pb.FlagSnapshot) -> None:
        by_scope: dict[Scope, list[Flag]] = {}
        for message in snapshot.flags:
            flag = Flag.from_message(message)
            by_scope.setdefault((flag.scope_type, flag.scope_id), []).append(flag)
        limits = tuple(
            CallLimit(
                budget_id=lim.budget_id,
                scope_type=lim.scope.type,
                scope_id=lim.scope.id,
                period=lim.period,
                metric=lim.metric or "cost",
                limit=Decimal(lim.limit or 0),
                hard=lim.hard,
                window_seconds=lim.window_seconds,
                block_at=Decimal(lim.block_at or lim.limit or 0),
            )
            for lim in snapshot.limits
        )
        index: dict[Scope, list[CallLimit]] = {}
        for limit in limits:
            index.setdefault((limit.scope_type, limit.scope_id), []).append(limit)
        if snapshot.HasField("pricing"):
            self._apply_pricing(snapshot.pricing)
        # Swap whole objects: readers on other threads see the old or the new table, never a mix.
        self.by_scope, self.limits, self.limit_index = by_scope, limits, index
        self.version = snapshot.version
        self.synced_at = time.monotonic()
        self.connected = True

    def _apply_pricing(self, message: pb.PricingOverrides) -> None:
        try:
            overrides = prices.overrides_from(message)
        except ValueError as exc:
            logger.warning("spendgate: ignoring the collector's price overrides: %s", exc)
            return
        if overrides != self.pricer.overrides:  # a new pricer starts with empty caches: only on change
            self.pricer = Pricer(overrides)

    def mark_disconnected(self) -> None:
        if self.connected:
            self.connected = False
            self.disconnected_at = time.monotonic()

    def limits_for(self, scopes: list[Scope]) -> list[tuple[CallLimit, str]]:
        """The per-request, per-run and rate limits of a call in these scopes, with the id each binds."""
        index = self.limit_index
        found: list[tuple[CallLimit, str]] = []
        for scope in scopes:
            exact = index.get(scope)
            if exact:
                found.extend((limit, scope[1]) for limit in exact)
            if scope[1]:
                default = index.get((scope[0], "*"))
                if default:
                    found.extend((limit, scope[1]) for limit in default)
        return found

    def flags_for(self, scopes: list[Scope]) -> list[Flag]:
        by_scope = self.by_scope
        if not by_scope:
            return []
        found: list[Flag] = []
        for scope in scopes:
            flags = by_scope.get(scope)
            if flags:
                found.extend(flags)
        return found


class FlagSubscriber:
    def __init__(
        self, endpoint: str, table: FlagTable, agent: str = "", headers: dict[str, str] | None = None
    ) -> None:
        self.endpoint = endpoint.removeprefix("http://").removeprefix("https://").rstrip("/")
        self.table = table
        self.agent = agent
        # gRPC metadata keys are lower case; the collector reads "authorization".
        self.metadata = tuple((key.lower(), value) for key, value in (headers or {}).items())
        self._stop = threading.Event()
        self._channel = grpc.insecure_channel(self.endpoint, options=_CHANNEL_OPTIONS)
        self.stub = flags_pb2_grpc.BudgetFlagsStub(self._channel)
        self.slots = flags_pb2_grpc.RunSlotsStub(self._channel)  # concurrency slots of runs (runs.py)
        self._thread = threading.Thread(target=self._run, name="spendgate-flags", daemon=True)
        self.reconnects = 0

    def start(self) -> FlagSubscriber:
        self._thread.start()
        return self

    def wait_synced(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.table.synced_at == 0.0 and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.table.synced_at != 0.0

    def _run(self) -> None:
        pause = 0.1
        while not self._stop.is_set():
            try:
                for snapshot in self.stub.Watch(
                    pb.WatchRequest(agent=self.agent), wait_for_ready=True, metadata=self.metadata
                ):
                    self.table.apply(snapshot)
                    pause = 0.1
            except grpc.RpcError as exc:
                if self._stop.is_set():
                    return
                code = exc.code() if hasattr(exc, "code") else None
                logger.debug("spendgate: flag stream from %s ended: %s", self.endpoint, code)
            except ValueError:  # channel closed under us
                return
            self.table.mark_disconnected()
            self.reconnects += 1
            self._stop.wait(pause)
            pause = min(pause * 2, 5.0)

    def stop(self) -> None:
        self._stop.set()
        self._channel.close()
        self._thread.join(5)
