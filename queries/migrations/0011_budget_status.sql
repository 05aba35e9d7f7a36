-- Snapshots of every budget scope as the evaluator saw it: spend, limit and state,
-- ok scopes included (budget_flags records only changes away from ok). Each
-- snapshot is complete, so readers take the rows of the newest evaluated_at.
CREATE TABLE IF NOT EXISTS {db}.budget_status{local} {on_cluster}
(
    budget_id       String,
    scope_type      LowCardinality(String),
    scope_id        String,
    metric          LowCardinality(String),
    period          LowCardinality(String),
    state           LowCardinality(String),
    spend           Decimal(38, 18),
    limit_amount    Decimal(38, 18),
    utilization     Decimal(38, 6),
    remaining       Decimal(38, 18),
    calls           UInt64,
    period_start    DateTime64(3, 'UTC'),
    period_end      DateTime64(3, 'UTC'),
    evaluated_at    DateTime64(3, 'UTC')
)
ENGINE = {engine_MergeTree}
PARTITION BY toDate(evaluated_at)
ORDER BY (budget_id, scope_id, evaluated_at)
TTL toDateTime(evaluated_at) + INTERVAL 7 DAY
SETTINGS ttl_only_drop_parts = 1;
