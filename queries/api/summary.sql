-- Totals of one scope over a time range, and the same broken down by provider and
-- by model, in one pass (GROUPING SETS). Rows: grouping = 'total' | 'provider' | 'model'.
SELECT
    multiIf(grouping(provider, priced_model) = 3, 'total', grouping(provider, priced_model) = 1, 'provider',
            'model') AS breakdown,
    provider,
    priced_model AS model,
    count() AS calls,
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
  AND multiIf(
        {scope_type:String} = 'global', 1,
        {scope_type:String} = 'project', project = {scope_id:String},
        {scope_type:String} = 'ticket', ticket = {scope_id:String},
        {scope_type:String} = 'task', task = {scope_id:String},
        {scope_type:String} = 'phase', phase = {scope_id:String},
        {scope_type:String} = 'agent', agent = {scope_id:String},
        {scope_type:String} = 'agent_type', agent_type = {scope_id:String},
        {scope_type:String} = 'user', user = {scope_id:String},
        {scope_type:String} = 'team', team = {scope_id:String},
        {scope_type:String} = 'provider', provider = {scope_id:String},
        {scope_type:String} = 'model', priced_model = {scope_id:String},
        0)
GROUP BY GROUPING SETS ((), (provider), (priced_model))
ORDER BY breakdown, total_cost DESC
SETTINGS group_by_use_nulls = 0
