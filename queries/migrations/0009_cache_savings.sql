-- What prompt caching saved on each call (the pricer prices the call again with
-- every cached token at the plain input rate), summed per day for the cache
-- savings dashboard. Rows stored before this migration count as 0.
ALTER TABLE {db}.llm_spans{local} {on_cluster}
    ADD COLUMN IF NOT EXISTS cache_savings Decimal(38, 18) DEFAULT 0 CODEC(ZSTD(1)) AFTER total_cost;

ALTER TABLE {db}.spend_daily{local} {on_cluster}
    ADD COLUMN IF NOT EXISTS cache_savings Decimal(38, 18) DEFAULT 0 AFTER total_cost;

DROP VIEW IF EXISTS {db}.spend_daily_mv{local} {on_cluster};

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.spend_daily_mv{local} {on_cluster}
TO {db}.spend_daily{local}
AS SELECT
    toDate(start_time) AS day,
    service, environment, project, ticket, phase, agent, agent_type, user, team, provider,
    priced_model AS model,
    pricing_status,
    count() AS calls,
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
