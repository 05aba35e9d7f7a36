-- Spend per day and per value of one dimension (or '' for all together) between two
-- dates, from the daily rollup (kept 365 days). Optional filters narrow it down.
SELECT
    day,
    multiIf({dimension:String} = 'agent', agent,
            {dimension:String} = 'project', project,
            {dimension:String} = 'model', model,
            {dimension:String} = 'provider', provider,
            {dimension:String} = 'ticket', ticket,
            {dimension:String} = 'phase', phase,
            {dimension:String} = 'agent_type', agent_type,
            {dimension:String} = 'user', user,
            {dimension:String} = 'team', team,
            '') AS key,
    sum(calls) AS calls,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(total_cost) AS total_cost
FROM {db}.spend_daily
WHERE day >= {start:Date} AND day <= {end:Date}
  AND ({project:String} = '' OR project = {project:String})
  AND ({agent:String} = '' OR agent = {agent:String})
  AND ({provider:String} = '' OR provider = {provider:String})
  AND ({model:String} = '' OR model = {model:String})
GROUP BY day, key
ORDER BY day, total_cost DESC
