-- Call identities stored recently: reloaded at start-up so a call that was
-- inserted but not acknowledged before a crash (or that another instrumentation
-- reported too) is not stored again.
SELECT call_key
FROM {db}.llm_spans
WHERE received_at >= now64(3) - toIntervalSecond({window_seconds:UInt32})
