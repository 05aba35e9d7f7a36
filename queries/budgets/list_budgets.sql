-- The newest version of every budget that is not deleted.
SELECT id, version, deleted, spec, changed_by, changed_at
FROM
(
    SELECT id, version, deleted, spec, changed_by, changed_at
    FROM {db}.budgets
    ORDER BY id, version DESC
    LIMIT 1 BY id
)
WHERE NOT deleted
ORDER BY id
