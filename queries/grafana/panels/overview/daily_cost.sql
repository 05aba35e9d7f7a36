-- Cost per UTC day and provider (one series per provider).
SELECT toDateTime(day, 'UTC') AS time, provider, sum(total_cost) AS cost
FROM spend_daily
WHERE day >= toDate($__fromTime, 'UTC') AND day <= toDate($__toTime, 'UTC')
  AND $__conditionalAll(project IN (${project:singlequote}), $project)
  AND $__conditionalAll(agent IN (${agent:singlequote}), $agent)
  AND $__conditionalAll(provider IN (${provider:singlequote}), $provider)
  AND $__conditionalAll(model IN (${model:singlequote}), $model)
GROUP BY time, provider
ORDER BY time, provider
