-- Applied migrations, one row per file.
CREATE TABLE IF NOT EXISTS {db}.schema_migrations {on_cluster}
(
    version     UInt32,
    name        String,
    checksum    String,
    applied_at  DateTime('UTC') DEFAULT now()
)
ENGINE = {engine_ReplacingMergeTree}
ORDER BY version;
