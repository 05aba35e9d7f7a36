-- Which of these call identities are stored (asked only when the writer's memory
-- of recent calls is past its bound; the bloom filter index keeps it cheap).
SELECT DISTINCT call_key
FROM {db}.llm_spans
WHERE call_key IN {keys:Array(FixedString(24))}
  AND received_at >= now64(3) - toIntervalSecond({window_seconds:UInt32})
