-- Every budget scope now: its state, spend, limit and period, the worst first.
SELECT
    budget_id AS budget, scope_type, scope_id, metric, period, state, spend, limit_amount, remaining,
    utilization AS used_percent, calls, period_start, period_end, evaluated_at
FROM budget_status
-- Each snapshot holds every scope the evaluator saw: the newest one is the current state.
WHERE evaluated_at = (SELECT max(evaluated_at) FROM budget_status)
  AND budget_id != ''  -- a snapshot with no budget in it has one empty marker row
ORDER BY multiIf(state = 'block', 0, state = 'critical', 1, state = 'warn', 2, 3), used_percent DESC, budget,
    scope_id
