-- Fixed monthly costs (processors.pricing.local_monthly_cost) are stored as one llm_spans row per
-- day with operation 'infrastructure': spend, but not a call. The rollup views count calls without
-- them; their target tables and data stay as they are.
DROP VIEW IF EXISTS {db}.spend_by_scope_hourly_mv{local} {on_cluster};

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.spend_by_scope_hourly_mv{local} {on_cluster}
TO {db}.spend_by_scope_hourly{local}
AS SELECT
    toStartOfHour(start_time) AS hour,
    scope.1 AS scope_type,
    scope.2 AS scope_id,
    countIf(operation != 'infrastructure') AS calls,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    sum(total_cost) AS total_cost
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
]) AS scope
GROUP BY hour, scope_type, scope_id;

DROP VIEW IF EXISTS {db}.spend_daily_mv{local} {on_cluster};

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.spend_daily_mv{local} {on_cluster}
TO {db}.spend_daily{local}
AS SELECT
    toDate(start_time) AS day,
    service, environment, project, ticket, phase, agent, agent_type, user, team, provider,
    priced_model AS model,
    pricing_status,
    countIf(operation != 'infrastructure') AS calls,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    sum(input_cost) AS input_cost,
    sum(cache_read_cost) AS cache_read_cost,
    sum(cache_write_cost) AS cache_write_cost,
    sum(output_cost) AS output_cost,
    sum(total_cost) AS total_cost,
    sum(cache_savings) AS cache_savings
FROM {db}.llm_spans{local}
GROUP BY day, service, environment, project, ticket, phase, agent, agent_type, user, team, provider, model,
    pricing_status;

DROP VIEW IF EXISTS {db}.spend_monthly_mv{local} {on_cluster};

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.spend_monthly_mv{local} {on_cluster}
TO {db}.spend_monthly{local}
AS SELECT
    toStartOfMonth(start_time) AS month,
    project, agent, agent_type, team, user, provider,
    priced_model AS model,
    pricing_status,
    countIf(operation != 'infrastructure') AS calls,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    sum(total_cost) AS total_cost
FROM {db}.llm_spans{local}
GROUP BY month, project, agent, agent_type, team, user, provider, model, pricing_status;
