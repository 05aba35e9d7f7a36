-- The call's identity beside the span's: spans of several instrumentations that
-- report one provider call share a call_id (from the provider's response id), and
-- the writer deduplicates on trace_id + call_id, also after a restart. Rows stored
-- before this migration read their own span_id. One-hour cache writes are kept
-- apart because they are priced above five-minute ones.
ALTER TABLE {db}.llm_spans{local} {on_cluster}
    ADD COLUMN IF NOT EXISTS cache_write_1h_tokens UInt64 DEFAULT 0 CODEC(T64, ZSTD(1)) AFTER cache_write_tokens;

ALTER TABLE {db}.llm_spans{local} {on_cluster}
    ADD COLUMN IF NOT EXISTS call_id FixedString(8) DEFAULT span_id;
