-- Crash-safe rollups. ClickHouse writes llm_spans and each rollup view's target
-- as separate parts, so a crash inside an insert can leave a block in llm_spans
-- and in none or only some of the rollups. Each insert batch now tags its rows
-- with an insert id (the batch's insert_deduplication_token), and the collector
-- records the id in insert_ledger once the insert has returned, i.e. once every
-- view has run. A tagged insert with no ledger entry may be incomplete: the
-- reconciler replays its rows with the same token, which ClickHouse drops where
-- the block is stored already and stores where it is missing. Rows stored before
-- this migration have no insert id and count as reconciled.
ALTER TABLE {db}.llm_spans{local} {on_cluster}
    ADD COLUMN IF NOT EXISTS insert_id String DEFAULT '' CODEC(ZSTD(1));

-- The reconciler looks at recently received rows only; parts of one insert have
-- a narrow received_at range, so this skips every older part.
ALTER TABLE {db}.llm_spans{local} {on_cluster}
    ADD INDEX IF NOT EXISTS received_at_minmax received_at TYPE minmax GRANULARITY 1;

CREATE TABLE IF NOT EXISTS {db}.insert_ledger{local} {on_cluster}
(
    insert_id   String,
    rows        UInt64,
    at          DateTime64(3, 'UTC')
)
ENGINE = {engine_MergeTree}
PARTITION BY toDate(at)
ORDER BY (at, insert_id)
TTL toDateTime(at) + INTERVAL 30 DAY
SETTINGS ttl_only_drop_parts = 1;
