-- Monthly spend summaries, kept forever.
CREATE TABLE IF NOT EXISTS {db}.spend_monthly{local} {on_cluster}
(
    month               Date,
    project             LowCardinality(String),
    agent               LowCardinality(String),
    agent_type          LowCardinality(String),
    team                LowCardinality(String),
    user                LowCardinality(String),
    provider            LowCardinality(String),
    model               LowCardinality(String),
    pricing_status      LowCardinality(String),
    calls               UInt64,
    input_tokens        UInt64,
    output_tokens       UInt64,
    cache_read_tokens   UInt64,
    cache_write_tokens  UInt64,
    reasoning_tokens    UInt64,
    total_cost          Decimal(38, 18)
)
ENGINE = {engine_SummingMergeTree}
ORDER BY (month, project, agent, provider, model, pricing_status, agent_type, team, user)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.spend_monthly_mv{local} {on_cluster}
TO {db}.spend_monthly{local}
AS SELECT
    toStartOfMonth(start_time) AS month,
    project, agent, agent_type, team, user, provider,
    priced_model AS model,
    pricing_status,
    toUInt64(1) AS calls,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
    total_cost
FROM {db}.llm_spans{local};
