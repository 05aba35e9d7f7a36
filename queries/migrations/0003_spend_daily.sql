-- Daily spend by every attribution dimension, for dashboards and reports.
CREATE TABLE IF NOT EXISTS {db}.spend_daily{local} {on_cluster}
(
    day                 Date,
    service             LowCardinality(String),
    environment         LowCardinality(String),
    project             LowCardinality(String),
    ticket              String,
    phase               LowCardinality(String),
    agent               LowCardinality(String),
    agent_type          LowCardinality(String),
    user                LowCardinality(String),
    team                LowCardinality(String),
    provider            LowCardinality(String),
    model               LowCardinality(String),
    pricing_status      LowCardinality(String),
    calls               UInt64,
    input_tokens        UInt64,
    output_tokens       UInt64,
    cache_read_tokens   UInt64,
    cache_write_tokens  UInt64,
    reasoning_tokens    UInt64,
    input_cost          Decimal(38, 18),
    cache_read_cost     Decimal(38, 18),
    cache_write_cost    Decimal(38, 18),
    output_cost         Decimal(38, 18),
    total_cost          Decimal(38, 18)
)
ENGINE = {engine_SummingMergeTree}
PARTITION BY toYYYYMM(day)
ORDER BY (day, project, agent, provider, model, pricing_status, ticket, phase, agent_type, user, team, service, environment)
TTL day + INTERVAL {daily_days} DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.spend_daily_mv{local} {on_cluster}
TO {db}.spend_daily{local}
AS SELECT
    toDate(start_time) AS day,
    service, environment, project, ticket, phase, agent, agent_type, user, team, provider,
    priced_model AS model,
    pricing_status,
    toUInt64(1) AS calls,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
    input_cost, cache_read_cost, cache_write_cost, output_cost, total_cost
FROM {db}.llm_spans{local};
