-- What a task has cost lately: tokens per task averaged over the tasks of the last
-- {days} days (optionally of one model), and the share of calls that failed (retried).
SELECT
    count() AS tasks,
    avg(input_tokens) AS avg_input_tokens,
    avg(output_tokens) AS avg_output_tokens,
    avg(total_cost) AS avg_cost,
    sum(failed) / greatest(sum(calls), 1) AS failure_rate
FROM
(
    SELECT task, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
           sum(total_cost) AS total_cost, count() AS calls, countIf(status_code = 'error') AS failed
    FROM {db}.llm_spans
    WHERE start_time >= now64(6) - toIntervalDay({days:UInt16}) AND task != ''
      AND ({model:String} = '' OR priced_model = {model:String} OR request_model = {model:String})
    GROUP BY task
)
