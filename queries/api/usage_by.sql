-- Spend per day and per value of one dimension (or '' for all together) between two
-- dates, from the daily rollup (kept 365 days). Optional filters narrow it down.
-- daily_key_of(dimension) is multiIf(dimension = 'project', project, ..., '') over the API's
-- dimensions and the usage_filters are one "AND (<agent> = '' OR agent = <agent>)" each,
-- from spendgate.dimensions: see spendgate/queries/__init__.py.
WITH {dimension:String} AS dimension
SELECT
    day,
    {daily_key_of(dimension)} AS key,
    sum(calls) AS calls,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(cache_read_tokens) AS cache_read_tokens,
    sum(total_cost) AS total_cost
FROM {db}.spend_daily
WHERE day >= {start:Date} AND day <= {end:Date}
  {usage_filters}
GROUP BY day, key
ORDER BY day, total_cost DESC
