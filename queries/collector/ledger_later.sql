-- How many inserts returned after a moment: a replay is deduplicated only while its
-- insert is within the tables' non_replicated_deduplication_window.
SELECT count() AS later
FROM {db}.insert_ledger
WHERE at > {after:DateTime64(3, 'UTC')}
