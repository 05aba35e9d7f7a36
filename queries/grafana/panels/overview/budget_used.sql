-- How much of each global budget its current period has used, in percent of the limit.
SELECT budget_id AS budget, utilization AS used_percent, spend, limit_amount
FROM budget_status
-- Each snapshot holds every scope the evaluator saw: the newest one is the current state.
WHERE evaluated_at = (SELECT max(evaluated_at) FROM budget_status)
  AND budget_id != ''  -- a snapshot with no budget in it has one empty marker row
  AND scope_type = 'global'
ORDER BY budget
