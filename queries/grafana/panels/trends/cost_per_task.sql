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
      AND $__conditionalAll(project IN (${project:singlequote}), $project)
      AND $__conditionalAll(agent IN (${agent:singlequote}), $agent)
      AND $__conditionalAll(provider IN (${provider:singlequote}), $provider)
      AND $__conditionalAll(priced_model IN (${model:singlequote}), $model)
      AND task != ''
    GROUP BY task
)
