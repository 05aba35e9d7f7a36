-- Calls per UTC day and pricing status (one series per status).
SELECT toDateTime(day, 'UTC') AS time, pricing_status, sum(calls) AS calls
FROM spend_daily
WHERE day >= toDate($__fromTime, 'UTC') AND day <= toDate($__toTime, 'UTC')
  AND $__conditionalAll(project IN (${project:singlequote}), $project)
  AND $__conditionalAll(agent IN (${agent:singlequote}), $agent)
  AND $__conditionalAll(provider IN (${provider:singlequote}), $provider)
  AND $__conditionalAll(model IN (${model:singlequote}), $model)
GROUP BY time, pricing_status
ORDER BY time, pricing_status
