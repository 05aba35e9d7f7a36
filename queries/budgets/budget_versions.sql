-- The highest version of each budget, deleted ones included (new versions go above it).
SELECT id, max(version) AS version
FROM {db}.budgets
GROUP BY id
