-- Cache use and savings per model: a low hit rate on a large input is the place to look first.
SELECT
    provider, model,
    sum(input_tokens) AS tokens_in,
    sum(cache_read_tokens) AS tokens_cached,
    sum(cache_write_tokens) AS tokens_cache_written,
    round(100 * sum(cache_read_tokens) / nullIf(sum(input_tokens), 0), 2) AS hit_rate_percent,
    sum(cache_savings) AS saved
FROM spend_daily
WHERE day >= toDate($__fromTime, 'UTC') AND day <= toDate($__toTime, 'UTC')
  AND $__conditionalAll(spend_daily.project IN (SELECT unhex(arrayJoin([${project:singlequote}]))), $project)
  AND $__conditionalAll(spend_daily.agent IN (SELECT unhex(arrayJoin([${agent:singlequote}]))), $agent)
  AND $__conditionalAll(spend_daily.provider IN (SELECT unhex(arrayJoin([${provider:singlequote}]))), $provider)
  AND $__conditionalAll(spend_daily.model IN (SELECT unhex(arrayJoin([${model:singlequote}]))), $model)
GROUP BY provider, model
ORDER BY tokens_in DESC, provider, model
