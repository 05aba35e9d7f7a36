-- What one task (spendgate.task) cost in the selected range: the basis of the forecast below.
SELECT
    count() AS tasks,
    sum(task_cost) / nullIf(count(), 0) AS mean_cost,
    quantileExact(0.5)(task_cost) AS median_cost,
    quantileExact(0.9)(task_cost) AS p90_cost
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
