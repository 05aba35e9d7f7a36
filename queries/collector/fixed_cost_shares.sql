-- Per project: the tokens of one local provider (and model, when given) on one UTC day, fixed
-- cost rows left out; what a day's fixed cost is split by.
SELECT project, sum(input_tokens + output_tokens + cache_read_tokens + cache_write_tokens) AS tokens
FROM {db}.llm_spans
WHERE provider = {provider:String}
  AND ({model:String} = '' OR priced_model = {model:String} OR request_model = {model:String})
  AND start_time >= toDateTime64({day:Date}, 6, 'UTC')
  AND start_time < toDateTime64({day:Date} + 1, 6, 'UTC')
  AND operation != 'infrastructure'
GROUP BY project
HAVING tokens > 0
ORDER BY project
