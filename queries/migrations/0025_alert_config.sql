-- The alert configuration (thresholds, notification channels) as changed at run time through
-- PUT /api/v1/alerts/config. Versioned like budgets: every change is a new row with a higher
-- version and readers take the newest; with no row the config file's alerts section holds.
CREATE TABLE IF NOT EXISTS {db}.alert_config{local} {on_cluster}
(
    version         UInt64,
    -- The alerts section as JSON (the collector's Alerts model): new fields need no migration.
    spec            String CODEC(ZSTD(1)),
    changed_by      LowCardinality(String),
    changed_at      DateTime64(3, 'UTC')
)
ENGINE = {engine_ReplacingMergeTree}
ORDER BY version;
