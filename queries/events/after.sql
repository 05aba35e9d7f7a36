-- Stored events after a position, in order, of the given types (all when the list is empty).
SELECT position, id, type, time, data
FROM {db}.events
WHERE position > {after:UInt64}
  AND (empty({types:Array(String)}) OR has({types:Array(String)}, type))
ORDER BY position
LIMIT {limit:UInt32}
