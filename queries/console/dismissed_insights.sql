-- The insights dismissed now: the newest row of each insight, when it dismisses.
SELECT insight_id, dismissed, changed_by, changed_at
FROM
(
    SELECT insight_id, dismissed, changed_by, changed_at
    FROM {db}.insight_dismissals
    ORDER BY insight_id, changed_at DESC
    LIMIT 1 BY insight_id
)
WHERE dismissed
ORDER BY changed_at DESC
