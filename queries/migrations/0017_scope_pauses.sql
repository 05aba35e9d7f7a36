-- Scopes paused by hand (spendgate pause, POST /api/admin/agents/{id}/pause): a
-- block independent of spend. Versioned like budgets: every pause or unpause is
-- a new row with a higher version, readers take the newest row per scope.
CREATE TABLE IF NOT EXISTS {db}.scope_pauses{local} {on_cluster}
(
    scope_type      LowCardinality(String),
    scope_id        String,
    version         UInt64,
    paused          Bool,
    reason          String,
    changed_by      LowCardinality(String),
    changed_at      DateTime64(3, 'UTC')
)
ENGINE = {engine_ReplacingMergeTree}
ORDER BY (scope_type, scope_id, version);
