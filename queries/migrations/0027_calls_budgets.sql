-- Calls budgets (rate limits). A call the agent's guard refused is still recorded (a
-- span with error_type BudgetExceeded and no usage) but never reached the provider:
-- it is not a call a calls budget counts, else an agent that keeps trying while it is
-- blocked would keep itself blocked. The per-scope rollup counts those apart; rows
-- rolled up before this migration count them as calls.
ALTER TABLE {db}.spend_by_scope_hourly{local} {on_cluster}
    ADD COLUMN IF NOT EXISTS blocked_calls UInt64 DEFAULT 0 AFTER calls;

DROP VIEW IF EXISTS {db}.spend_by_scope_hourly_mv{local} {on_cluster};

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.spend_by_scope_hourly_mv{local} {on_cluster}
TO {db}.spend_by_scope_hourly{local}
AS SELECT
    toStartOfHour(start_time) AS hour,
    scope.1 AS scope_type,
    scope.2 AS scope_id,
    -- As 0023: fixed-cost rows (operation 'infrastructure') are spend, not calls.
    countIf(s.operation != 'infrastructure') AS calls,
    -- Qualified: input_tokens alone is the sum below.
    countIf(s.error_type = 'BudgetExceeded' AND s.input_tokens = 0 AND s.output_tokens = 0) AS blocked_calls,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    sum(total_cost) AS total_cost
FROM {db}.llm_spans{local} AS s
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
]) AS scope
GROUP BY hour, scope_type, scope_id;

-- A flag's metric (cost, tokens or calls), so collectors in external mode serve the
-- flags they read back with the metric the evaluator gave them. Rows stored before
-- this migration were cost or token flags and read as cost.
ALTER TABLE {db}.budget_flags{local} {on_cluster}
    ADD COLUMN IF NOT EXISTS metric LowCardinality(String) DEFAULT 'cost' AFTER scope_id;
