-- Cluster mode only: the Distributed llm_spans gains the insert id of 0015, and
-- the insert ledger gets its Distributed table.
ALTER TABLE {db}.llm_spans {on_cluster}
    ADD COLUMN IF NOT EXISTS insert_id String DEFAULT '';

CREATE TABLE IF NOT EXISTS {db}.insert_ledger {on_cluster}
AS {db}.insert_ledger_local
ENGINE = Distributed({cluster}, {db}, insert_ledger_local, cityHash64(insert_id));
