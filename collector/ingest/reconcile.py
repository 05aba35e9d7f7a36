"""Rollups that catch up after a crash.

ClickHouse stores an insert into llm_spans and into each rollup view's target
as separate parts, with no atomicity across them: a SIGKILL inside an insert
can leave the block in llm_spans and in none, or only some, of the rollups.
The exporter's retry is then deduplicated against llm_spans, so nothing else
would ever add the missing rollup rows.

Every insert batch carries an insert id (its ``insert_deduplication_token``,
see insert_ledger.py) on its rows, and the ledger records the id once the
insert returned. A tagged insert with no ledger entry may be incomplete. The
reconciler replays its stored rows into llm_spans with the same token and the
writer's settings: ClickHouse drops the block where it is stored already (in
llm_spans and in every rollup that has it) and runs the views whose target
lacks it, so each rollup ends up holding the insert exactly once, whichever
of them the crash had reached. Replayed rows never pass the writer, so the
budget fast path does not count them; the next evaluation reads them.

It runs at start-up, before the receivers accept traffic, over the inserts
received since shortly before the newest ledger entry, and then every minute
over the recent window.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import pyarrow as pa
from spendgate.collector.ingest.insert_ledger import InsertLedger
from spendgate.collector.ingest.writer import INSERT_SETTINGS, SPANS_TABLE
from spendgate.collector.storage import Storage
from spendgate.collector.tables import Columns, Records

log = logging.getLogger(__name__)

_START_LOOKBACK = timedelta(hours=1)  # before the newest ledger entry: covers queued and retried batches
_OVERLAP = timedelta(minutes=5)  # periodic windows overlap: a batch can be stored well after its rows arrive
# Half the tables' non_replicated_deduplication_window (10000 blocks): older inserts might no
# longer be recognised, and replaying them would store their rows twice.
_SAFE_DEPTH = 5000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class _Newest:
    entries: int
    newest: datetime  # the epoch when there are none


@dataclass(frozen=True)
class _Later:
    later: int  # inserts that returned after a moment


@dataclass(frozen=True)
class Unledgered:
    """A tagged insert with no ledger entry (collector/unledgered_inserts.sql)."""

    insert_id: str
    rows: int
    first_received: datetime
    last_received: datetime


_NEWEST, _LATER, _UNLEDGERED = Columns(_Newest), Columns(_Later), Columns(Unledgered)


class ReplayStore(Records, Protocol):
    """What the reconciler needs of a store: records, and the rows of an insert to replay."""

    def query_arrow(self, relative_path: str, parameters: Mapping[str, object]) -> pa.Table: ...
    def insert_arrow(self, table: str, block: pa.Table, settings: Mapping[str, object]) -> None: ...


class Rereader(Protocol):
    """Reads the rollups again when woken (the budget evaluator): told when a replay changed them."""

    def wake(self) -> object: ...


@dataclass(frozen=True)
class Repair:
    checked_since: datetime
    inserts: int  # incomplete-looking inserts replayed
    rows: int
    skipped: int  # too old to replay safely


def grace_for(storage: Storage, insert_timeout: float) -> float:
    """Seconds to leave recent inserts alone: none on the embedded engine (this process is its only
    writer and holds its own inserts while it looks); on a server, other collectors' inserts may
    be in flight, each retried for up to ``insert_timeout``."""
    return 0.0 if storage.dsn.startswith("chdb:") else 2 * insert_timeout + 10.0


class Reconciler:
    def __init__(self, storage: ReplayStore, ledger: InsertLedger | None = None, grace: float = 0.0) -> None:
        self._storage = storage
        self.ledger = ledger or InsertLedger(storage)
        self._grace = timedelta(seconds=grace)
        self._hold: AbstractContextManager[object] = contextlib.nullcontext()
        self._on_repair: Rereader | None = None
        self._checked_until: datetime | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.stats = {"runs": 0, "replayed_inserts": 0, "replayed_rows": 0, "skipped": 0}

    # -- runs -------------------------------------------------------------------------------------
    def run_at_start(self) -> Repair:
        """Repair what a crash left, from shortly before the newest ledger entry."""
        (ledger,) = self._storage.records(_NEWEST, "collector/ledger_newest.sql")
        since = ledger.newest - _START_LOOKBACK if ledger.entries else _EPOCH
        return self.run(max(since, _EPOCH))

    def run(self, since: datetime | None = None) -> Repair:
        """Replay every insert received in [since, now - grace) that has no ledger entry."""
        until = datetime.now(UTC) - self._grace
        if since is None:
            since = (self._checked_until or until) - _OVERLAP
        # With this process's inserts held and its ledger written, an insert without an entry is
        # one that did not return (or another collector's, older than the grace).
        with self._hold:
            self.ledger.flush()
            candidates = self._storage.records(
                _UNLEDGERED, "collector/unledgered_inserts.sql", {"since": since, "until": until}
            )
            replayed = [row for row in candidates if self._replay(row)]
            self.ledger.flush()
        self._checked_until = until
        repair = Repair(
            since,
            len(replayed),
            sum(row.rows for row in replayed),
            len(candidates) - len(replayed),
        )
        self._count(repair)
        return repair

    def _replay(self, insert: Unledgered) -> bool:
        (later,) = self._storage.records(
            _LATER, "collector/ledger_later.sql", {"after": insert.last_received}
        )
        if later.later > _SAFE_DEPTH:
            log.error(
                "insert %s (%d rows) may be missing from the rollups, but %d inserts came after it: "
                "too many to replay it without storing it twice; left as it is",
                insert.insert_id,
                insert.rows,
                later.later,
            )
            return False
        block = self._storage.query_arrow(
            "collector/insert_rows.sql",
            {
                "insert_id": insert.insert_id,
                "first_received": insert.first_received,
                "last_received": insert.last_received,
            },
        )
        settings = dict(INSERT_SETTINGS, insert_deduplication_token=insert.insert_id)
        # One chunk, as the writer sent it: ClickHouse matches the token block by block.
        self._storage.insert_arrow(SPANS_TABLE, block.combine_chunks(), settings)
        self.ledger.record(insert.insert_id, block.num_rows)
        return True

    def _count(self, repair: Repair) -> None:
        self.stats["runs"] += 1
        self.stats["replayed_inserts"] += repair.inserts
        self.stats["replayed_rows"] += repair.rows
        self.stats["skipped"] += repair.skipped
        if repair.inserts:
            log.warning(
                "reconciliation: replayed %d inserts (%d rows) that had not reached every rollup",
                repair.inserts,
                repair.rows,
            )
            if self._on_repair is not None:
                self._on_repair.wake()
        else:
            log.debug("reconciliation since %s: nothing missing", repair.checked_since.isoformat())

    # -- the periodic thread ------------------------------------------------------------------------
    def start(
        self,
        hold: AbstractContextManager[object],
        on_repair: Rereader | None = None,
        every: float = 60.0,
    ) -> None:
        """Reconcile every ``every`` seconds; ``hold`` keeps the writer's inserts out meanwhile (the
        writer's ``insert_lock``) and ``on_repair`` is woken when something was replayed."""
        self._hold, self._on_repair = hold, on_repair
        self._thread = threading.Thread(
            target=self._loop, args=(every,), name="spendgate-reconcile", daemon=True
        )
        self._thread.start()

    def _loop(self, every: float) -> None:
        while not self._stop.wait(every):
            try:
                self.run()
            except Exception as exc:  # ClickHouse away: the next run covers this window too
                log.warning("reconciliation failed: %s", str(exc).splitlines()[0] if str(exc) else exc)

    def stop(self) -> None:
        """Stop the periodic runs and write the ledger entries still pending."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        self.ledger.flush()
