-- Model-call spans stored in the last minutes, with their parents: reloaded at
-- start-up so a span nested in one of them (or wrapping one) that arrives after
-- a restart is recognised as the same call.
SELECT trace_id, span_id, parent_span_id
FROM {db}.llm_spans
WHERE received_at >= now64(3) - toIntervalSecond({window_seconds:UInt32})
