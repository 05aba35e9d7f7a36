-- The newest budget status snapshot: every scope of every evaluated budget.
-- Empty scope filters match everything.
SELECT budget_id, scope_type, scope_id, metric, period, state, spend, limit_amount, utilization,
       remaining, calls, period_start, period_end, evaluated_at
FROM {db}.budget_status
WHERE evaluated_at = (SELECT max(evaluated_at) FROM {db}.budget_status)
  AND budget_id != ''  -- a snapshot with no budget in it has one empty marker row
  AND ({scope_type:String} = '' OR scope_type = {scope_type:String})
  AND ({scope_id:String} = '' OR scope_id = {scope_id:String})
ORDER BY utilization DESC, budget_id, scope_id
