-- Every version of one override request, oldest first: who asked, who decided, when.
SELECT id, version, budget_id, scope_id, amount, reason, requested_by, status, granted, valid_until,
       decided_by, decided_at, note, changed_at
FROM {db}.budget_override_requests
WHERE id = {id:String}
ORDER BY version
LIMIT 1 BY id, version
