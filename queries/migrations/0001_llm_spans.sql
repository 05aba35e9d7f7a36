-- One row per priced LLM model call (a leaf span: chat, text_completion,
-- generate_content, embeddings). Detailed rows expire after the retention
-- period; the rollups below keep the money.
CREATE TABLE IF NOT EXISTS {db}.llm_spans{local} {on_cluster}
(
    trace_id            FixedString(16),
    span_id             FixedString(8),
    parent_span_id      FixedString(8),
    start_time          DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    end_time            DateTime64(6, 'UTC') CODEC(Delta, ZSTD(1)),
    received_at         DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    span_name           String CODEC(ZSTD(1)),
    status_code         LowCardinality(String),
    error_type          LowCardinality(String),
    emitter             LowCardinality(String),

    service             LowCardinality(String),
    environment         LowCardinality(String),
    project             LowCardinality(String),
    ticket              String CODEC(ZSTD(1)),
    task                String CODEC(ZSTD(1)),
    phase               LowCardinality(String),
    agent               LowCardinality(String),
    agent_type          LowCardinality(String),
    run                 String CODEC(ZSTD(1)),
    user                LowCardinality(String),
    team                LowCardinality(String),

    provider            LowCardinality(String),
    operation           LowCardinality(String),
    request_model       LowCardinality(String),
    response_model      LowCardinality(String),
    priced_model        LowCardinality(String),
    pricing_status      LowCardinality(String),
    usage_estimated     Bool,

    input_tokens        UInt64 CODEC(T64, ZSTD(1)),
    output_tokens       UInt64 CODEC(T64, ZSTD(1)),
    cache_read_tokens   UInt64 CODEC(T64, ZSTD(1)),
    cache_write_tokens  UInt64 CODEC(T64, ZSTD(1)),
    reasoning_tokens    UInt64 CODEC(T64, ZSTD(1)),

    input_cost          Decimal(38, 18) CODEC(ZSTD(1)),
    cache_read_cost     Decimal(38, 18) CODEC(ZSTD(1)),
    cache_write_cost    Decimal(38, 18) CODEC(ZSTD(1)),
    output_cost         Decimal(38, 18) CODEC(ZSTD(1)),
    total_cost          Decimal(38, 18) CODEC(ZSTD(1))
)
ENGINE = {engine_MergeTree}
PARTITION BY toYYYYMM(start_time)
-- Dashboards and the evaluator filter by project and time first.
ORDER BY (project, toStartOfHour(start_time), agent, provider, request_model, span_id)
TTL toDateTime(start_time) + INTERVAL {detailed_days} DAY
SETTINGS non_replicated_deduplication_window = 10000;
