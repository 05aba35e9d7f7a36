-- Alerts raised in the selected range, newest first: threshold crossings and spend anomalies.
SELECT at AS time, level, kind, budget_id AS budget, scope_type, scope_id, threshold, spend, limit_amount,
       utilization AS used_percent, message
FROM budget_alerts
WHERE $__timeFilter(at)
ORDER BY at DESC
LIMIT 500
