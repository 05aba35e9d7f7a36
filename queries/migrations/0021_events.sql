-- Events (collector/events/): every published event, in the order of its position, kept for
-- the SSE stream's Last-Event-ID resume and for at-least-once webhook delivery; event_cursors
-- holds, per webhook, the position of the last event it acknowledged.
CREATE TABLE IF NOT EXISTS {db}.events{local} {on_cluster}
(
    position    UInt64,
    id          String,
    type        LowCardinality(String),
    time        DateTime64(6, 'UTC'),
    data        String CODEC(ZSTD(1))
)
ENGINE = {engine_MergeTree}
PARTITION BY toDate(time)
ORDER BY position
TTL toDateTime(time) + INTERVAL 30 DAY
SETTINGS ttl_only_drop_parts = 1;

CREATE TABLE IF NOT EXISTS {db}.event_cursors{local} {on_cluster}
(
    webhook     String,
    position    UInt64,
    updated_at  DateTime64(6, 'UTC')
)
ENGINE = {engine_ReplacingMergeTree}
ORDER BY webhook;  -- merges keep one row a webhook; readers take max(position)
