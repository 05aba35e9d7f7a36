-- Cluster mode only: the Distributed tables gain the columns their local tables got in 0027.
ALTER TABLE {db}.spend_by_scope_hourly {on_cluster}
    ADD COLUMN IF NOT EXISTS blocked_calls UInt64 DEFAULT 0 AFTER calls;

ALTER TABLE {db}.budget_flags {on_cluster}
    ADD COLUMN IF NOT EXISTS metric LowCardinality(String) DEFAULT 'cost' AFTER scope_id;
