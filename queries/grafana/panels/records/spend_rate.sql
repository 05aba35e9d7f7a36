-- Calls and spend per interval, with the spend scaled to dollars per hour so zooming keeps the scale.
SELECT
    $__timeInterval(start_time) AS time,
    count() AS calls,
    sum(total_cost) * 3600 / $__interval_s AS cost_per_hour
FROM llm_spans
WHERE $__timeFilter(start_time)
  AND $__conditionalAll(llm_spans.project IN (SELECT unhex(arrayJoin([${project:singlequote}]))), $project)
  AND $__conditionalAll(llm_spans.agent IN (SELECT unhex(arrayJoin([${agent:singlequote}]))), $agent)
  AND $__conditionalAll(llm_spans.provider IN (SELECT unhex(arrayJoin([${provider:singlequote}]))), $provider)
  AND $__conditionalAll(llm_spans.priced_model IN (SELECT unhex(arrayJoin([${model:singlequote}]))), $model)
GROUP BY time
ORDER BY time
