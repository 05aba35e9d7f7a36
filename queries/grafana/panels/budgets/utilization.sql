-- Every budget scope's use of its current period, in percent of the limit.
SELECT
    concat(budget_id, if(scope_id = '', '', concat(' · ', scope_id))) AS budget,
    utilization AS used_percent
FROM budget_status
-- Each snapshot holds every scope the evaluator saw: the newest one is the current state.
WHERE evaluated_at = (SELECT max(evaluated_at) FROM budget_status)
  AND budget_id != ''  -- a snapshot with no budget in it has one empty marker row
ORDER BY used_percent DESC, budget
