-- Insights a person dismissed in the web console (POST /api/v1/costs/insights/dismissals).
-- Versioned by time: dismissing or restoring writes a row, readers take the newest per insight.
CREATE TABLE IF NOT EXISTS {db}.insight_dismissals{local} {on_cluster}
(
    insight_id      String,
    dismissed       Bool,
    changed_by      LowCardinality(String),
    changed_at      DateTime64(3, 'UTC')
)
ENGINE = {engine_ReplacingMergeTree}
ORDER BY (insight_id, changed_at);
