-- Cluster mode only: the Distributed table gains the columns its local table got in 0013.
ALTER TABLE {db}.llm_spans {on_cluster}
    ADD COLUMN IF NOT EXISTS cache_write_1h_tokens UInt64 DEFAULT 0 AFTER cache_write_tokens;

ALTER TABLE {db}.llm_spans {on_cluster}
    ADD COLUMN IF NOT EXISTS call_key FixedString(24) DEFAULT concat(trace_id, span_id);
