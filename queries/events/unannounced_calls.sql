-- Calls received since a time that have no cost.recorded event: the collector stopped between the
-- insert and storing its events, or the reconciler replayed the insert (events/recovery.py).
-- GLOBAL: on a cluster the events are read once, not on every shard.
SELECT call_key, end_time, operation, task, agent, provider, response_model, request_model, total_cost,
       input_tokens, output_tokens
FROM {db}.llm_spans
WHERE received_at >= {since:DateTime64(3, 'UTC')}
  AND concat('call-', lower(hex(call_key))) GLOBAL NOT IN
      (SELECT id FROM {db}.events WHERE type = 'cost.recorded' AND position >= {since_position:UInt64})
ORDER BY received_at
LIMIT 1 BY call_key
