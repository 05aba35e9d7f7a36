"""The dedup memory: exact for any keys, bounded, and exact past its bound too (it asks ClickHouse)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from spendgate.collector.config import BatchProcessor, ClickHouseExporter
from spendgate.collector.ingest import seen_keys
from spendgate.collector.ingest.pricer import Pricer
from spendgate.collector.ingest.processing import process
from spendgate.collector.ingest.seen_keys import SeenKeys
from spendgate.collector.ingest.writer import SpanWriter
from spendgate.collector.storage import Storage, migrate, open_storage

from .conftest import chat_attributes, make_spans

# Keys that differ only in their last bytes, end in NULs, or are NULs: what a sloppy array would mix up.
KEYS = st.one_of(
    st.binary(min_size=24, max_size=24),
    st.builds(lambda tail: b"\x07" * 20 + tail, st.binary(min_size=4, max_size=4)),
    st.builds(lambda n: b"k" * (24 - n) + b"\0" * n, st.integers(0, 24)),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(KEYS, max_size=40), max_size=30), st.lists(KEYS, max_size=50))
def test_membership_is_exact(batches: list[list[bytes]], probes: list[bytes]) -> None:
    seen_keys_fresh = seen_keys.FRESH_KEYS
    seen_keys.FRESH_KEYS = 16  # many levels and merges from few keys
    try:
        seen = SeenKeys(window=3600, max_keys=10**6)
        added: set[bytes] = set()
        for number, batch in enumerate(batches):
            seen.add(batch, now=float(number))
            added.update(batch)
        reloaded = SeenKeys(window=3600, max_keys=10**6)
        reloaded.add_array(np.array(sorted(added), dtype="S24"), now=0.0)
        for probe in probes + sorted(added):
            assert (probe in seen) == (probe in added) == (probe in reloaded)
    finally:
        seen_keys.FRESH_KEYS = seen_keys_fresh


def test_memory_is_bounded_and_the_bound_is_reported() -> None:
    seen = SeenKeys(window=3600, max_keys=200_000)
    rng = np.random.default_rng(1)
    for step in range(10):
        keys = rng.bytes(24 * 65_536)
        seen.add([keys[i : i + 24] for i in range(0, len(keys), 24)], now=float(step))
        assert len(seen) <= 200_000 + seen_keys.FRESH_KEYS
    assert seen.overflowed(now=10.0) and not seen.overflowed(now=10_000.0)
    assert seen.nbytes() / len(seen) <= 40  # 8 bytes of hash and 24 of key each, plus the fresh set


def _blocks(count: int, per_request: int) -> list[Any]:
    pricer = Pricer()
    out = []
    for _ in range(count // per_request):
        spans = make_spans([{"attributes": chat_attributes()} for _ in range(per_request)])
        processed = process(encode_spans(spans).SerializeToString(), "protobuf", pricer)
        keys, links = processed.writer_rows()
        out.append((keys, processed.table(), links))
    return out


@pytest.fixture
def storage(chdb_dsn: str) -> Iterator[Storage]:
    database = "t_" + uuid.uuid4().hex[:10]
    opened = open_storage(ClickHouseExporter(endpoint=chdb_dsn, database=database))
    migrate(opened)
    yield opened
    opened.client.command(f"DROP DATABASE IF EXISTS {database} SYNC")
    opened.close()


def _writer(storage: Storage, **options: Any) -> SpanWriter:
    return SpanWriter(storage, BatchProcessor(timeout=0.01), dedup_window=3600, **options)


def _send(writer: SpanWriter, blocks: list[Any]) -> None:
    for keys, table, links in blocks:
        for future in writer.submit(keys, table, links):
            future.result(30)


def _count(storage: Storage) -> tuple[int, int]:
    table = f"{storage.options.database}.llm_spans"
    return tuple(storage.client.query(f"SELECT count(), uniqExact(call_key) FROM {table}").first_row)


def test_a_restart_past_the_bound_stores_no_resent_call_twice(storage: Storage) -> None:
    blocks = _blocks(5_000, 500)
    writer = _writer(storage, max_seen_spans=1_000)
    writer.start()
    _send(writer, blocks)
    writer.stop()
    # The restart reloads 5,000 ids into room for 1,000; the resend must still store nothing.
    again = _writer(storage, max_seen_spans=1_000)
    again.start()
    _send(again, blocks)
    again.stop()
    assert _count(storage) == (5_000, 5_000)
    assert again.stats["duplicate_spans"] == 5_000 and again.stats["dedup_lookups"] > 0


def test_collectors_sharing_a_database_store_a_retry_once(storage: Storage) -> None:
    blocks = _blocks(1_000, 250)
    first = _writer(storage, shared=True)
    first.start()
    _send(first, blocks[:2])
    first.stop()
    shared, alone = _writer(storage, shared=True), _writer(storage)
    for writer in (shared, alone):
        writer.start()
        # Forget what the start-up reload brought: as if they started before those inserts.
        writer._seen, writer._nested = SeenKeys(3600, 10**6), type(writer._nested)(3600, 10**6)
    _send(shared, blocks)
    shared.stop()
    assert _count(storage)[0] == 1_000  # the 500 the first collector stored were not stored again
    keys, table, links = blocks[0]
    # A batch of another shape than the first insert's (its deduplication token differs).
    _send(alone, [(keys[:100], table.slice(0, 100), links[:100])])
    alone.stop()
    assert _count(storage)[0] == 1_100  # without dedup_shared, a collector that did not see them stores them


def test_a_failed_lookup_in_clickhouse_is_a_retryable_error(storage: Storage) -> None:
    from spendgate.collector.ingest.writer import StorageUnavailable

    blocks = _blocks(100, 100)
    writer = _writer(storage, shared=True)
    writer.start()
    table = f"{storage.options.database}.llm_spans"
    storage.client.command(f"RENAME TABLE {table} TO {table}_away")  # ClickHouse cannot answer the lookup
    try:
        with pytest.raises(StorageUnavailable, match="cannot check resent calls"):
            writer.submit(*blocks[0])
    finally:
        storage.client.command(f"RENAME TABLE {table}_away TO {table}")
        writer.stop()
