-- Span identities stored recently: reloaded at start-up so a span that was
-- inserted but not acknowledged before a crash is not stored again on retry.
SELECT trace_id, span_id
FROM {db}.llm_spans
WHERE received_at >= now64(3) - toIntervalSecond({window_seconds:UInt32})
