-- Per UTC day: what caching saved, and what cached and cache-written tokens cost.
SELECT
    toDateTime(day, 'UTC') AS time,
    sum(cache_savings) AS saved,
    sum(cache_read_cost) + sum(cache_write_cost) AS cache_spend
FROM spend_daily
WHERE day >= toDate($__fromTime, 'UTC') AND day <= toDate($__toTime, 'UTC')
  AND $__conditionalAll(spend_daily.project IN (SELECT unhex(arrayJoin([${project:singlequote}]))), $project)
  AND $__conditionalAll(spend_daily.agent IN (SELECT unhex(arrayJoin([${agent:singlequote}]))), $agent)
  AND $__conditionalAll(spend_daily.provider IN (SELECT unhex(arrayJoin([${provider:singlequote}]))), $provider)
  AND $__conditionalAll(spend_daily.model IN (SELECT unhex(arrayJoin([${model:singlequote}]))), $model)
GROUP BY time
ORDER BY time
