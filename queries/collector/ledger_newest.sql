-- The newest ledger entry (none: entries = 0): start-up reconciliation looks back from here.
SELECT count() AS entries, max(at) AS newest
FROM {db}.insert_ledger
