-- The newest stored alert configuration (none: the config file's holds).
SELECT version, spec, changed_by, changed_at
FROM {db}.alert_config
ORDER BY version DESC
LIMIT 1
