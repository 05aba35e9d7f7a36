-- How many budget scopes are blocked, critical (95 % or more), warned (80 % or more) and ok.
SELECT
    countIf(state = 'block') AS blocked,
    countIf(state = 'critical') AS critical,
    countIf(state = 'warn') AS warned,
    countIf(state = 'ok') AS ok
FROM budget_status
-- Each snapshot holds every scope the evaluator saw: the newest one is the current state.
WHERE evaluated_at = (SELECT max(evaluated_at) FROM budget_status)
  AND budget_id != ''  -- a snapshot with no budget in it has one empty marker row
