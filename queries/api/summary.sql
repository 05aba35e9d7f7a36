-- Totals of one scope over a time range, and the same broken down by provider, by
-- model and by both, in one pass (GROUPING SETS).
-- Rows: breakdown = 'total' | 'provider' | 'model' | 'provider_model'.
-- scope_id_of(scope_type) is a span's id in that scope type, from spendgate.dimensions:
-- multiIf(scope_type = 'project', project, ..., scope_type = 'model', priced_model, '').
WITH {scope_type:String} AS scope_type
SELECT
    multiIf(grouping(provider, priced_model) = 3, 'total', grouping(provider, priced_model) = 1, 'provider',
            grouping(provider, priced_model) = 2, 'model', 'provider_model') AS breakdown,
    provider,
    priced_model AS model,
    countIf(operation != 'infrastructure') AS calls,  -- a fixed monthly cost's daily row is no call
    count() AS records,  -- rows, as /costs/records lists them (the seeds' record_count)
    uniqExactIf(run, run != '') AS runs,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(cache_write_tokens) AS cache_write_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    sum(total_cost) AS total_cost,
    countIf(pricing_status IN ('fallback', 'unpriced')) AS calls_not_catalogue_priced
FROM {db}.llm_spans
WHERE start_time >= fromUnixTimestamp64Micro({start_us:Int64}, 'UTC')
  AND start_time < fromUnixTimestamp64Micro({end_us:Int64}, 'UTC')
  -- (The API asks for a scope_id with every scope type but global.)
  AND (scope_type = 'global' OR {scope_id_of(scope_type)} = {scope_id:String})
GROUP BY GROUPING SETS ((), (provider), (priced_model), (provider, priced_model))
ORDER BY breakdown, total_cost DESC
SETTINGS group_by_use_nulls = 0
