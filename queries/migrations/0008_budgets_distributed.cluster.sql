-- Cluster mode only: Distributed tables over the budget tables.
CREATE TABLE IF NOT EXISTS {db}.budgets {on_cluster}
AS {db}.budgets_local
ENGINE = Distributed({cluster}, {db}, budgets_local);

CREATE TABLE IF NOT EXISTS {db}.budget_flags {on_cluster}
AS {db}.budget_flags_local
ENGINE = Distributed({cluster}, {db}, budget_flags_local);

CREATE TABLE IF NOT EXISTS {db}.budget_alerts {on_cluster}
AS {db}.budget_alerts_local
ENGINE = Distributed({cluster}, {db}, budget_alerts_local);

ALTER TABLE {db}.llm_spans {on_cluster}
    ADD COLUMN IF NOT EXISTS reservation_id String DEFAULT '';
