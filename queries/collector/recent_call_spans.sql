-- Model-call spans stored in the last minutes (trace id + span id): reloaded at
-- start-up so a span nested in one of them that arrives after a restart is
-- recognised as the same call.
SELECT toFixedString(concat(trace_id, span_id), 24) AS span_key
FROM {db}.llm_spans
WHERE received_at >= now64(3) - toIntervalSecond({window_seconds:UInt32})
  -- anonymous = 1: only calls without a response id (their key is their trace + span id)
  AND ({anonymous:UInt8} = 0 OR call_key = concat(trace_id, span_id))
