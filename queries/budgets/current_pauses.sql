-- The newest version of every scope pause, paused or not (its version is the one a new change goes above).
SELECT scope_type, scope_id, version, paused, reason, changed_by, changed_at
FROM {db}.scope_pauses
ORDER BY scope_type, scope_id, version DESC
LIMIT 1 BY scope_type, scope_id
