-- Every version of one budget, deleted ones included, oldest first (one row per version, as the
-- ReplacingMergeTree keeps it once merged: the last written).
SELECT id, version, deleted, spec, changed_by, changed_at
FROM {db}.budgets
WHERE id = {id:String}
ORDER BY version, changed_at DESC
LIMIT 1 BY version
