-- Per agent and model over the last {days} days: spend, calls, runs, tokens per run,
-- cache reads, and failed calls; the API turns these into suggestions.
SELECT
    agent,
    provider,
    priced_model AS model,
    count() AS calls,
    uniqExactIf(run, run != '') AS runs,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(total_cost) AS total_cost,
    countIf(status_code = 'error') AS failed_calls,
    sumIf(total_cost, status_code = 'error') AS failed_cost,
    (sum(input_tokens) + sum(output_tokens)) / greatest(uniqExactIf(run, run != ''), 1) AS tokens_per_run
FROM {db}.llm_spans
WHERE start_time >= now64(6) - toIntervalDay({days:UInt16}) AND agent != ''
GROUP BY agent, provider, model
HAVING calls > 0
ORDER BY sum(total_cost) DESC
-- Names in expressions mean the columns of llm_spans, not the aliases above.
SETTINGS prefer_column_name_to_alias = 1
