-- Cluster mode only: one Distributed table per local table, under the plain
-- name, so every reader queries the same names in both modes.
CREATE TABLE IF NOT EXISTS {db}.llm_spans {on_cluster}
AS {db}.llm_spans_local
ENGINE = Distributed({cluster}, {db}, llm_spans_local, cityHash64(trace_id));

CREATE TABLE IF NOT EXISTS {db}.spend_by_scope_hourly {on_cluster}
AS {db}.spend_by_scope_hourly_local
ENGINE = Distributed({cluster}, {db}, spend_by_scope_hourly_local);

CREATE TABLE IF NOT EXISTS {db}.spend_daily {on_cluster}
AS {db}.spend_daily_local
ENGINE = Distributed({cluster}, {db}, spend_daily_local);

CREATE TABLE IF NOT EXISTS {db}.spend_monthly {on_cluster}
AS {db}.spend_monthly_local
ENGINE = Distributed({cluster}, {db}, spend_monthly_local);
