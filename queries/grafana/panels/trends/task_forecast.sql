-- Forecast for the dashboard's pending task count from the cost per task in the selected range:
-- low = the median task, mid = the mean task, high = the 90th percentile task.
WITH toUInt32OrZero(${pending_tasks:sqlstring}) AS pending
SELECT
    pending AS pending_tasks,
    pending * quantileExact(0.5)(task_cost) AS low,
    pending * sum(task_cost) / nullIf(count(), 0) AS mid,
    pending * quantileExact(0.9)(task_cost) AS high
FROM
(
    SELECT task, sum(total_cost) AS task_cost
    FROM llm_spans
    WHERE $__timeFilter(start_time)
      AND $__conditionalAll(llm_spans.project IN (SELECT unhex(arrayJoin([${project:singlequote}]))), $project)
      AND $__conditionalAll(llm_spans.agent IN (SELECT unhex(arrayJoin([${agent:singlequote}]))), $agent)
      AND $__conditionalAll(llm_spans.provider IN (SELECT unhex(arrayJoin([${provider:singlequote}]))), $provider)
      AND $__conditionalAll(llm_spans.priced_model IN (SELECT unhex(arrayJoin([${model:singlequote}]))), $model)
      AND task != ''
    GROUP BY task
)
