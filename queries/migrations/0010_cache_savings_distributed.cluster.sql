-- Cluster mode only: the Distributed tables gain the column their local tables got in 0009.
ALTER TABLE {db}.llm_spans {on_cluster}
    ADD COLUMN IF NOT EXISTS cache_savings Decimal(38, 18) DEFAULT 0 AFTER total_cost;

ALTER TABLE {db}.spend_daily {on_cluster}
    ADD COLUMN IF NOT EXISTS cache_savings Decimal(38, 18) DEFAULT 0 AFTER total_cost;
