-- The last day accrued of each fixed monthly cost (local models' infrastructure), by provider and model.
SELECT provider, request_model AS model, max(toDate(start_time)) AS last_day
FROM {db}.llm_spans
WHERE operation = 'infrastructure'
GROUP BY provider, model
