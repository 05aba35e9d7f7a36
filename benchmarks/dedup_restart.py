"""Dedup memory at a restart: N call ids stored within the window, reloaded, and every resend found.

Stores N rows (call ids only; the other columns take their defaults) in a fresh embedded database,
then starts a SpanWriter on it as a restarted collector would and measures
  1. the reload time and the memory per id (the structure's own bytes, and the process's RSS growth),
  2. that every stored id is recognised (a resend of any of them stores nothing),
  3. lookup throughput, against a Python set of the same ids built in this run (the baseline).

    python benchmarks/dedup_restart.py [--ids 5000000] [--bound 5000000]

With --bound below --ids the writer's memory overflows and resends are checked against ClickHouse.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
import uuid

import numpy as np
import pyarrow as pa
from spendgate.collector.config import BatchProcessor, ClickHouseExporter
from spendgate.collector.ingest.writer import SpanWriter
from spendgate.collector.storage import migrate, open_storage


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def _store(storage, ids: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    table = f"{storage.options.database}.llm_spans"
    now_ms = int(time.time() * 1000)
    for start in range(0, len(ids), 500_000):
        chunk = ids[start : start + 500_000]
        raw = pa.py_buffer(chunk.tobytes())
        block = pa.table({
            "call_key": pa.FixedSizeBinaryArray.from_buffers(pa.binary(24), len(chunk), [None, raw]),
            "trace_id": pa.FixedSizeBinaryArray.from_buffers(pa.binary(16), len(chunk), [None, pa.py_buffer(
                np.frombuffer(chunk.tobytes(), np.uint8).reshape(-1, 24)[:, :16].tobytes())]),
            "received_at": pa.array(np.full(len(chunk), now_ms), pa.timestamp("ms", tz="UTC")),
            "start_time": pa.array(np.full(len(chunk), now_ms * 1000), pa.timestamp("us", tz="UTC")),
        })  # fmt: skip
        storage.client.insert_arrow(table, block)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=5_000_000)
    parser.add_argument("--bound", type=int, default=5_000_000, help="the writer's max ids in memory")
    args = parser.parse_args()
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    database = "bench_" + uuid.uuid4().hex[:8]
    storage = open_storage(ClickHouseExporter(endpoint="chdb://" + tempfile.mkdtemp(), database=database))
    migrate(storage)
    ids = np.frombuffer(np.random.default_rng(7).bytes(24 * args.ids), dtype="S24")
    started = time.perf_counter()
    _store(storage, ids)
    print(f"stored {args.ids:,} ids in {time.perf_counter() - started:.1f} s")

    rss_before = _rss_mib()
    started = time.perf_counter()
    writer = SpanWriter(storage, BatchProcessor(), dedup_window=3600, max_seen_spans=args.bound)
    writer.start()
    reload_s = time.perf_counter() - started
    seen = writer._seen  # the structure under test
    print(
        f"reload: {reload_s:.2f} s, {len(seen):,} ids in memory, {seen.nbytes() / max(len(seen), 1):.1f} "
        f"bytes per id (structure), RSS +{_rss_mib() - rss_before:.0f} MiB after the reload"
    )

    keys = [bytes(k).ljust(24, b"\0") for k in ids[:200_000].tolist()]  # a resend of 200,000 of them
    started = time.perf_counter()
    found = sum(seen.contains(keys[i : i + 1000]).count(True) for i in range(0, len(keys), 1000))
    lookup_s = time.perf_counter() - started
    if len(seen) < args.ids:
        stored = writer._stored_beyond_memory(keys[:1000])
        print(f"past the bound: {len(stored)} of 1,000 resent ids found in ClickHouse")
    fresh = [bytes(k) for k in np.frombuffer(np.random.default_rng(8).bytes(24 * 200_000), dtype="V24")]
    started = time.perf_counter()
    new = sum(seen.contains(fresh[i : i + 1000]).count(True) for i in range(0, len(fresh), 1000))
    miss_s = time.perf_counter() - started
    print(f"new ids: {new} of {len(fresh):,} taken for stored; {len(fresh) / miss_s:,.0f} ids/s")
    baseline = set(keys)
    started = time.perf_counter()
    base_found = sum(1 for key in keys if key in baseline)
    base_s = time.perf_counter() - started
    print(f"resend of {len(keys):,} ids: {found:,} recognised in memory ({base_found:,} by the set)")
    print(
        f"lookups: {len(keys) / lookup_s:,.0f} ids/s against a Python set's {len(keys) / base_s:,.0f} "
        f"({(len(keys) / lookup_s) / (len(keys) / base_s):.3f}x)"
    )
    writer.stop()
    storage.client.command(f"DROP DATABASE {database} SYNC")


if __name__ == "__main__":
    main()
