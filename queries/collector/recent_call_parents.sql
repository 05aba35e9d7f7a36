-- The parents (trace id + parent span id) of the model-call spans stored in the
-- last minutes: a span that wraps one of them, arriving after a restart, is the
-- same call.
SELECT toFixedString(concat(trace_id, parent_span_id), 24) AS parent_key
FROM {db}.llm_spans
WHERE received_at >= now64(3) - toIntervalSecond({window_seconds:UInt32})
  AND parent_span_id != toFixedString(unhex('0000000000000000'), 8)
  -- anonymous = 1: only calls without a response id (their key is their trace + span id)
  AND ({anonymous:UInt8} = 0 OR call_key = concat(trace_id, span_id))
