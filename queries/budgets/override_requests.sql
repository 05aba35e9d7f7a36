-- The newest version of every override request.
SELECT id, version, budget_id, scope_id, amount, reason, requested_by, status, granted, valid_until,
       decided_by, decided_at, note, changed_at
FROM {db}.budget_override_requests
ORDER BY id, version DESC
LIMIT 1 BY id
