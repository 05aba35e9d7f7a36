-- Tagged inserts received in [since, until) that have no ledger entry: a crash may
-- have stopped them between llm_spans and the rollups. A ledger entry is written
-- after its insert returned, so it is never older than the insert's rows.
-- GLOBAL: on a cluster the ledger is read once, not on every shard.
SELECT
    insert_id,
    count() AS rows,
    min(received_at) AS first_received,
    max(received_at) AS last_received
FROM {db}.llm_spans
WHERE received_at >= {since:DateTime64(3, 'UTC')}
  AND received_at < {until:DateTime64(3, 'UTC')}
  AND insert_id != ''
  AND insert_id GLOBAL NOT IN
      (SELECT insert_id FROM {db}.insert_ledger WHERE at >= {since:DateTime64(3, 'UTC')})
GROUP BY insert_id
ORDER BY first_received
