-- When each budget was created: its first version after the last deletion (an id can be reused).
SELECT id, minIf(changed_at, version > last_deleted) AS created_at
FROM
(
    SELECT id, version, changed_at, maxIf(version, deleted) OVER (PARTITION BY id) AS last_deleted
    FROM {db}.budgets
)
GROUP BY id
