-- The call's identity beside the span's: spans of several instrumentations that
-- report one provider call share a call_key (from the provider's response id),
-- and the writer deduplicates on it, also after a restart. Rows stored before
-- this migration read their trace and span id, the identity they were stored
-- under. One-hour cache writes are kept apart: they are priced above 5-minute ones.
ALTER TABLE {db}.llm_spans{local} {on_cluster}
    ADD COLUMN IF NOT EXISTS cache_write_1h_tokens UInt64 DEFAULT 0 CODEC(T64, ZSTD(1)) AFTER cache_write_tokens;

ALTER TABLE {db}.llm_spans{local} {on_cluster}
    ADD COLUMN IF NOT EXISTS call_key FixedString(24) DEFAULT concat(trace_id, span_id) CODEC(ZSTD(1));

-- Past the writer's in-memory bound, deduplication asks ClickHouse by call_key.
ALTER TABLE {db}.llm_spans{local} {on_cluster}
    ADD INDEX IF NOT EXISTS call_key_bloom call_key TYPE bloom_filter GRANULARITY 4;
