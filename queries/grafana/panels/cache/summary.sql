-- What prompt caching saved in the selected range, and how much input it served.
SELECT
    sum(cache_savings) AS saved,
    round(100 * sum(cache_read_tokens) / nullIf(sum(input_tokens), 0), 2) AS hit_rate_percent,
    sum(cache_read_tokens) AS tokens_cached,
    sum(cache_write_tokens) AS tokens_cache_written,
    sum(cache_read_cost) + sum(cache_write_cost) AS cache_spend
FROM spend_daily
WHERE day >= toDate($__fromTime, 'UTC') AND day <= toDate($__toTime, 'UTC')
  AND $__conditionalAll(spend_daily.project IN (SELECT unhex(arrayJoin([${project:singlequote}]))), $project)
  AND $__conditionalAll(spend_daily.agent IN (SELECT unhex(arrayJoin([${agent:singlequote}]))), $agent)
  AND $__conditionalAll(spend_daily.provider IN (SELECT unhex(arrayJoin([${provider:singlequote}]))), $provider)
  AND $__conditionalAll(spend_daily.model IN (SELECT unhex(arrayJoin([${model:singlequote}]))), $model)
