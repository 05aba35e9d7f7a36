"""Insert ids and the ledger of inserts that returned (see reconcile.py for why).

The writer tags every row of an insert batch with the batch's
``insert_deduplication_token`` and, once the insert has returned (every
rollup view ran), records the id here. Entries are written in small batches,
about once a second: an entry lost in a crash only makes the reconciler
replay an insert that was complete, which ClickHouse deduplicates.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
from spendgate.collector.tables import RecordWriter, Table

log = logging.getLogger(__name__)

INSERT_ID = "insert_id"  # the llm_spans column (migration 0015)
_FLUSH_EVERY_S = 1.0


@dataclass(frozen=True)
class LedgerEntry:
    """An insert that returned: llm_spans and every rollup hold its ``rows``."""

    insert_id: str
    rows: int
    at: datetime


LEDGER = Table("insert_ledger", LedgerEntry)


def tag_block(block: pa.Table, insert_id: str) -> pa.Table:
    """``block`` as one chunk, with the insert id on every row.

    ClickHouse deduplicates a token's insert block by block: one chunk is one block, so a
    replay of the stored rows (also one chunk) matches the original insert.
    """
    block = block.combine_chunks()
    return block.append_column(INSERT_ID, pa.repeat(pa.scalar(insert_id, pa.string()), block.num_rows))


class InsertLedger:
    def __init__(self, storage: RecordWriter, flush_every: float = _FLUSH_EVERY_S) -> None:
        self._storage = storage
        self._every = flush_every
        self._lock = threading.Lock()
        self._pending: list[LedgerEntry] = []
        self._last_flush = time.monotonic()

    def record(self, insert_id: str, rows: int) -> None:
        """The insert ``insert_id`` returned: llm_spans and every rollup hold it."""
        with self._lock:
            self._pending.append(LedgerEntry(insert_id, rows, datetime.now(UTC)))
        if time.monotonic() - self._last_flush >= self._every:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
            self._last_flush = time.monotonic()
            if not pending:
                return
            try:
                self._storage.insert(LEDGER, pending)
            except Exception as exc:  # never fail an insert for its ledger entry: kept for the next flush
                log.warning("could not record %d inserts in the ledger: %s", len(pending), exc)
                self._pending[:0] = pending
