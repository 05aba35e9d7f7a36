-- What agents were told, and when: every flag change in the selected range, newest first.
SELECT changed_at AS time, budget_id AS budget, scope_type, scope_id, state, spend, limit_amount,
       utilization AS used_percent, reason
FROM budget_flags
WHERE $__timeFilter(changed_at)
ORDER BY changed_at DESC, budget_id, scope_id
LIMIT 500
