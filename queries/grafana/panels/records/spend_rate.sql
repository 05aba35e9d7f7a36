-- Calls and spend per interval, with the spend scaled to dollars per hour so zooming keeps the scale.
SELECT
    $__timeInterval(start_time) AS time,
    count() AS calls,
    sum(total_cost) * 3600 / $__interval_s AS cost_per_hour
FROM llm_spans
WHERE $__timeFilter(start_time)
  AND $__conditionalAll(project IN (${project:singlequote}), $project)
  AND $__conditionalAll(agent IN (${agent:singlequote}), $agent)
  AND $__conditionalAll(provider IN (${provider:singlequote}), $provider)
  AND $__conditionalAll(priced_model IN (${model:singlequote}), $model)
GROUP BY time
ORDER BY time
