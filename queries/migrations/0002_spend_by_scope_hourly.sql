-- Spend per budget scope and hour: every span fans out to one row per scope
-- it belongs to (global plus each non-empty attribution dimension), so the
-- evaluator reads one small table for all budgets.
CREATE TABLE IF NOT EXISTS {db}.spend_by_scope_hourly{local} {on_cluster}
(
    hour                DateTime('UTC'),
    scope_type          LowCardinality(String),
    scope_id            String,
    calls               UInt64,
    input_tokens        UInt64,
    output_tokens       UInt64,
    cache_read_tokens   UInt64,
    cache_write_tokens  UInt64,
    reasoning_tokens    UInt64,
    total_cost          Decimal(38, 18)
)
ENGINE = {engine_SummingMergeTree}
PARTITION BY toYYYYMM(hour)
ORDER BY (scope_type, scope_id, hour)
TTL hour + INTERVAL {hourly_days} DAY
-- Needed so retried inserts are deduplicated here too, not only in llm_spans.
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.spend_by_scope_hourly_mv{local} {on_cluster}
TO {db}.spend_by_scope_hourly{local}
AS SELECT
    toStartOfHour(start_time) AS hour,
    scope.1 AS scope_type,
    scope.2 AS scope_id,
    toUInt64(1) AS calls,
    input_tokens,
    output_tokens,
    cache_read_tokens,
    cache_write_tokens,
    reasoning_tokens,
    total_cost
FROM {db}.llm_spans{local}
ARRAY JOIN arrayFilter(s -> s.1 = 'global' OR s.2 != '', [
    ('global', ''),
    ('project', project),
    ('ticket', ticket),
    ('task', task),
    ('phase', phase),
    ('agent', agent),
    ('agent_type', agent_type),
    ('user', user),
    ('team', team),
    ('provider', provider),
    ('model', priced_model)
]) AS scope;
