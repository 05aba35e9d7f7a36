"""Batched, deduplicated, acknowledged inserts into ClickHouse.

Requests hand their priced rows to :class:`SpanWriter` and wait for the
returned future. A single writer thread groups the rows of concurrent
requests into one insert (small inserts are slow and make many parts) and
resolves every future only after ClickHouse has accepted the insert, so an
acknowledged span is stored.

Each call is stored once. Calls already stored (or being stored) are skipped
by their identity (``calls.call_key``: the provider's response id, else the
trace and span id), tracked for ``dedup_window``; the set
is reloaded from ClickHouse at start-up, so a span inserted just before a
crash is not stored again when the exporter retries. An insert that fails is
retried with the same ``insert_deduplication_token``, and the rollup tables
are set up to deduplicate those retries too.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pyarrow as pa
from spendgate.collector.config import BatchProcessor
from spendgate.collector.ingest.insert_ledger import InsertLedger, tag_block
from spendgate.collector.ingest.seen_keys import InFlightLinks, NestedCalls, SeenKeys

log = logging.getLogger(__name__)

_QUIET_GAP_S = 0.02  # nothing new for this long and nothing on its way: insert what is queued
SPANS_TABLE = "llm_spans"

INSERT_SETTINGS = {
    # Retries of one batch carry the same token: stored once in llm_spans ...
    "insert_deduplicate": 1,
    # ... and, with non_replicated_deduplication_window on the targets, once in the rollups.
    "deduplicate_blocks_in_dependent_materialized_views": 1,
}


class Backpressure(Exception):
    """Too many rows are waiting for storage: the client should retry later."""

    retry_after = 1


class StorageUnavailable(Exception):
    """ClickHouse did not accept the rows; nothing from this request was stored."""

    retry_after = 2


@dataclass
class _Pending:
    keys: list[bytes]
    block: pa.Table  # llm_spans rows, one per key
    links: list[tuple[bytes, bytes]]  # per row: (trace + span id, trace + parent span id)
    seq: int = 0
    future: Future[None] = field(default_factory=Future)


class BlockObserver(Protocol):
    """Told about every block of new rows: queued, then stored or failed (the budget fast path)."""

    def queued(self, seq: int, block: pa.Table) -> None: ...
    def stored(self, seqs: list[int]) -> None: ...
    def failed(self, seqs: list[int]) -> None: ...


@contextlib.contextmanager
def _observer_guard() -> Iterator[None]:
    try:
        yield
    except Exception:  # counting for budgets must never fail an insert
        log.exception("the block observer failed")


class InsertMeter(Protocol):
    """Told the time of every insert attempt (collector/telemetry.py)."""

    def insert_took(self, seconds: float, ok: bool) -> None: ...


class SpanStore(Protocol):
    """What the writer needs of a store: the recent keys at start-up, lookups, and inserts."""

    def key_array(self, relative_path: str, parameters: Mapping[str, object], width: int = 24) -> np.ndarray:
        """The one key column of a .sql file's result (millions of keys without an object each)."""
        ...

    def stored_keys(self, relative_path: str, keys: list[bytes], window_seconds: int) -> set[bytes]:
        """Which of ``keys`` a .sql file finds stored within the window."""
        ...

    def insert_arrow(self, table: str, block: pa.Table, settings: Mapping[str, object]) -> None: ...


class SpanWriter:
    def __init__(
        self,
        storage: SpanStore,
        batch: BatchProcessor,
        dedup_window: float,
        max_seen_spans: int = 5_000_000,
        retry_for: float = 30.0,
        shared: bool = False,
    ) -> None:
        self._storage = storage
        # Several collectors on one database: a call another collector stored is not in this one's
        # memory, so every id it does not know is looked up in ClickHouse.
        self._shared = shared
        self._batch = batch
        self._retry_for = retry_for
        self._lock = threading.Condition()
        self._queue: deque[_Pending] = deque()
        self._queued_rows = 0
        self._in_flight: dict[bytes, Future[None]] = {}
        self._seen = SeenKeys(dedup_window, max_seen_spans)
        self._nested = NestedCalls(dedup_window, max_seen_spans)
        self._in_flight_links = InFlightLinks()
        self._stopping = False
        self._thread: threading.Thread | None = None
        # Requests being processed upstream, which will reach the writer soon.
        self.incoming: Callable[[], int] = lambda: 0
        # Sees each block of new rows as it is queued (so budgets react before the insert) and
        # when it is stored or failed. Inserts and their ``stored`` call hold ``insert_lock``: a
        # reader holding it sees a table that agrees with what the observer was told.
        self.observer: BlockObserver | None = None
        self.insert_lock = threading.Lock()
        # Told of every insert that returned, so the reconciler can tell incomplete ones (reconcile.py).
        self.ledger: InsertLedger | None = None
        self.meter: InsertMeter | None = None
        self._seq = 0
        self.stats = {
            "inserted_spans": 0,
            "duplicate_spans": 0,
            "inserts": 0,
            "insert_failures": 0,
            "dedup_lookups": 0,
        }

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> None:
        self._load_recent_keys()
        self._thread = threading.Thread(target=self._run, name="spendgate-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Flush what is queued, then stop."""
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def _load_recent_keys(self) -> None:
        now = time.monotonic()
        keys = self._storage.key_array(
            "collector/recent_span_keys.sql", {"window_seconds": int(self._seen.window)}
        )
        self._seen.add_array(keys, now)
        mib = self._seen.nbytes() / 2**20
        log.info("loaded %d recently stored call ids for deduplication (%.1f MiB)", len(keys), mib)
        nested = self._nested
        levels = ((0, nested.spans, nested.parents), (1, nested.anonymous_spans, nested.anonymous_parents))
        for anonymous, spans, parents in levels:
            window = {"window_seconds": int(nested.window), "anonymous": anonymous}
            spans.add_array(self._storage.key_array("collector/recent_call_spans.sql", window), now)
            parents.add_array(self._storage.key_array("collector/recent_call_parents.sql", window), now)

    # -- submission --------------------------------------------------------
    def submit(
        self, keys: list[bytes], block: pa.Table, links: list[tuple[bytes, bytes]] | None = None
    ) -> list[Future[None]]:
        """Queue a block of rows (one per key) for insert; the futures resolve once all are stored.

        ``links`` (per row: trace + span id, trace + parent span id) let a row nested in a call
        stored earlier, or wrapping one, be recognised as that call. Calls already stored are
        skipped; calls already queued by another request are waited for instead of queued twice.
        """
        waits: dict[int, Future[None]] = {}
        new_keys: list[bytes] = []
        kept: list[int] = []
        stored = self._stored_beyond_memory(keys)
        with self._lock:
            if self._stopping:
                raise StorageUnavailable("the collector is shutting down")
            if self._queued_rows + len(keys) > self._batch.max_pending_spans and self._queued_rows:
                raise Backpressure(f"{self._queued_rows} spans are waiting for storage")
            if stored is None and self._seen.overflowed(time.monotonic()):
                stored = self._stored_beyond_memory(keys, force=True)  # levels went since the check
            known = stored or set()
            batch_keys: set[bytes] = set()
            seen = self._seen.contains(keys)
            nested = self._nested.covers(links, keys) if links is not None else [False] * len(keys)
            now = time.monotonic()
            for index, key in enumerate(keys):
                if seen[index] or key in batch_keys or key in known:
                    self.stats["duplicate_spans"] += 1
                    continue
                covering = self._in_flight.get(key) or (
                    self._in_flight_links.covering(links[index], key) if links is not None else None
                )
                if nested[index] or covering is not None:
                    # Another report of a call stored or on its way: remember this report's own
                    # identity too, so a third report under it is known.
                    self.stats["duplicate_spans"] += 1
                    self._seen.add([key], now)
                    if covering is not None:
                        waits[id(covering)] = covering
                    continue
                batch_keys.add(key)
                new_keys.append(key)
                kept.append(index)
            if new_keys:
                if len(kept) < len(keys):
                    block = block.take(pa.array(kept, pa.int64()))
                self._seq += 1
                pending_links = [links[i] for i in kept] if links else []
                pending = _Pending(new_keys, block, pending_links, self._seq)
                # Under the lock, so the writer thread cannot store it before it is announced.
                if (observer := self.observer) is not None:
                    with _observer_guard():
                        observer.queued(pending.seq, block)
                for key in new_keys:
                    self._in_flight[key] = pending.future
                self._in_flight_links.add(pending_links, new_keys, pending.future)
                self._queue.append(pending)
                self._queued_rows += len(new_keys)
                waits[id(pending.future)] = pending.future
                self._lock.notify_all()
        return list(waits.values())

    def _stored_beyond_memory(self, keys: list[bytes], force: bool = False) -> set[bytes] | None:
        """The keys ClickHouse holds, asked only once the count bound forced out keys still inside
        the window (past the bound, deduplication is slower but still exact), or always when
        several collectors share the database; None when not asked."""
        if not (force or self._shared or self._seen.overflowed(time.monotonic())):
            return None
        unknown = [key for key, seen in zip(keys, self._seen.contains(keys), strict=True) if not seen]
        if not unknown:
            return set()
        self.stats["dedup_lookups"] += 1
        try:
            return self._storage.stored_keys(
                "collector/stored_call_keys.sql", unknown, int(self._seen.window)
            )
        except Exception as exc:  # the exporter retries a 503, not a 500
            raise StorageUnavailable(f"cannot check resent calls in ClickHouse: {exc}") from None

    # -- the writer thread -------------------------------------------------
    def _take(self) -> list[_Pending]:
        with self._lock:
            while not self._queue and not self._stopping:
                self._lock.wait()
            if not self._queue:
                return []
            # Give concurrent requests a moment to join this insert, while they keep coming:
            # each insert has a fixed cost in the engine, but waiting when nothing else is on
            # its way only adds latency.
            deadline = time.monotonic() + self._batch.timeout
            while self._queued_rows < self._batch.send_batch_size and not self._stopping:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                before = self._queued_rows
                self._lock.wait(min(remaining, _QUIET_GAP_S))
                if self._queued_rows == before and not self.incoming():
                    break
            taken: list[_Pending] = []
            count = 0
            while self._queue and (
                not taken or count + len(self._queue[0].keys) <= self._batch.send_batch_size
            ):
                item = self._queue.popleft()
                taken.append(item)
                count += len(item.keys)
            self._queued_rows -= count
            return taken

    def _run(self) -> None:
        while True:
            taken = self._take()
            if not taken:
                return
            seqs = [pending.seq for pending in taken]
            try:
                with self.insert_lock:
                    self._insert(taken)
                    if (observer := self.observer) is not None:
                        with _observer_guard():
                            observer.stored(seqs)
            except Exception as exc:
                log.error("insert of %d spans failed: %s", sum(len(p.keys) for p in taken), exc)
                if (observer := self.observer) is not None:
                    with _observer_guard():
                        observer.failed(seqs)
                self._finish(taken, StorageUnavailable(f"ClickHouse did not accept the spans: {exc}"))
            else:
                self._finish(taken, None)

    def _insert(self, taken: list[_Pending]) -> None:
        block = pa.concat_tables([pending.block for pending in taken])
        keys = [key for pending in taken for key in pending.keys]
        token = hashlib.blake2b(b"".join(keys), digest_size=16).hexdigest()
        settings = dict(INSERT_SETTINGS, insert_deduplication_token=token)
        block = tag_block(block, token)  # the rows carry their insert's token: reconcile.py replays by it
        deadline = time.monotonic() + self._retry_for
        delay = 0.1
        while True:
            started = time.perf_counter()
            try:
                self._storage.insert_arrow(SPANS_TABLE, block, settings)
                if (meter := self.meter) is not None:
                    meter.insert_took(time.perf_counter() - started, ok=True)
                self.stats["inserts"] += 1
                if self.ledger is not None:
                    self.ledger.record(token, block.num_rows)
                return
            except Exception as exc:
                if (meter := self.meter) is not None:
                    meter.insert_took(time.perf_counter() - started, ok=False)
                self.stats["insert_failures"] += 1
                if time.monotonic() + delay > deadline or self._stopping:
                    raise
                log.warning("insert failed (%s); retrying the same batch in %.1fs", exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _finish(self, taken: list[_Pending], error: Exception | None) -> None:
        with self._lock:
            for pending in taken:
                for key in pending.keys:
                    self._in_flight.pop(key, None)
                self._in_flight_links.remove(pending.links)
                if error is None:
                    self._seen.add(pending.keys, time.monotonic())
                    self._nested.add(pending.links, pending.keys, time.monotonic())
                    self.stats["inserted_spans"] += len(pending.keys)
        for pending in taken:
            if error is None:
                pending.future.set_result(None)
            else:
                pending.future.set_exception(error)

    @property
    def queued_spans(self) -> int:
        return self._queued_rows
