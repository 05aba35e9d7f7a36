-- The newest flag of every budget scope that is not ok (collectors in external
-- evaluator mode serve these to their agents).
SELECT budget_id, scope_type, scope_id, metric, version, state, spend, limit_amount, utilization, remaining,
       period_end, reason, changed_at
FROM
(
    SELECT *
    FROM {db}.budget_flags
    WHERE changed_at >= now64(3) - INTERVAL 40 DAY
    ORDER BY budget_id, scope_id, changed_at DESC, version DESC
    LIMIT 1 BY budget_id, scope_id
)
WHERE state != 'ok'
