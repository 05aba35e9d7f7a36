-- Alerts newest first, for the in-app list (and, at start-up, to resume cooldowns).
SELECT id, at, budget_id, scope_type, scope_id, kind, level, threshold, spend, limit_amount,
       utilization, message
FROM {db}.budget_alerts
WHERE at >= {since:DateTime64(3, 'UTC')}
ORDER BY at DESC
LIMIT {limit:UInt32}
