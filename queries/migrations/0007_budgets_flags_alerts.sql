-- Budgets, the flags the evaluator derives from them, and alert events.
-- Budgets live here so collectors and evaluators stay stateless: every change
-- is a new row with a higher version, and readers take the newest row per id
-- (LIMIT 1 BY), which stays correct on any engine and across shards.
CREATE TABLE IF NOT EXISTS {db}.budgets{local} {on_cluster}
(
    id              String,
    version         UInt64,
    deleted         Bool DEFAULT false,
    -- The budget as JSON (the collector's Budget model): new fields need no migration.
    spec            String CODEC(ZSTD(1)),
    changed_by      LowCardinality(String),
    changed_at      DateTime64(3, 'UTC')
)
ENGINE = {engine_ReplacingMergeTree}
ORDER BY (id, version);

-- The current flag of every budget scope, one row per change; readers take the
-- newest version per (budget_id, scope_id).
CREATE TABLE IF NOT EXISTS {db}.budget_flags{local} {on_cluster}
(
    budget_id       String,
    scope_type      LowCardinality(String),
    scope_id        String,
    version         UInt64,
    state           LowCardinality(String),
    spend           Decimal(38, 18),
    limit_amount    Decimal(38, 18),
    utilization     Decimal(38, 6),
    remaining       Decimal(38, 18),
    period_end      DateTime64(3, 'UTC'),
    reason          String,
    changed_at      DateTime64(3, 'UTC')
)
ENGINE = {engine_ReplacingMergeTree}
ORDER BY (budget_id, scope_id, version)
TTL toDateTime(changed_at) + INTERVAL 90 DAY;

-- Alert events: threshold crossings and anomalies, kept for the in-app list.
CREATE TABLE IF NOT EXISTS {db}.budget_alerts{local} {on_cluster}
(
    id              String,
    at              DateTime64(3, 'UTC'),
    budget_id       String,
    scope_type      LowCardinality(String),
    scope_id        String,
    kind            LowCardinality(String),
    level           LowCardinality(String),
    threshold       UInt16,
    spend           Decimal(38, 18),
    limit_amount    Decimal(38, 18),
    utilization     Decimal(38, 6),
    message         String
)
ENGINE = {engine_MergeTree}
PARTITION BY toYYYYMM(at)
ORDER BY (at, budget_id)
TTL toDateTime(at) + INTERVAL 400 DAY;

-- Strict-mode calls carry the reservation they settle, so the collector counts
-- each call's cost once: from its reservation until its span is stored.
ALTER TABLE {db}.llm_spans{local} {on_cluster}
    ADD COLUMN IF NOT EXISTS reservation_id String DEFAULT '' CODEC(ZSTD(1));
