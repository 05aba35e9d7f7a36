-- Cost of the current UTC day, whatever the selected range.
SELECT sum(total_cost) AS today
FROM spend_daily
WHERE day = toDate(now(), 'UTC')
  AND $__conditionalAll(project IN (${project:singlequote}), $project)
  AND $__conditionalAll(agent IN (${agent:singlequote}), $agent)
  AND $__conditionalAll(provider IN (${provider:singlequote}), $provider)
  AND $__conditionalAll(model IN (${model:singlequote}), $model)
