-- The newest priced LLM calls of the selected range, one row per call.
SELECT
    start_time AS time, project, ticket, task, phase, agent, run, provider, priced_model AS model,
    pricing_status, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
    total_cost AS cost, lower(hex(trace_id)) AS trace
FROM llm_spans
WHERE $__timeFilter(start_time)
  AND $__conditionalAll(llm_spans.project IN (SELECT unhex(arrayJoin([${project:singlequote}]))), $project)
  AND $__conditionalAll(llm_spans.agent IN (SELECT unhex(arrayJoin([${agent:singlequote}]))), $agent)
  AND $__conditionalAll(llm_spans.provider IN (SELECT unhex(arrayJoin([${provider:singlequote}]))), $provider)
  AND $__conditionalAll(llm_spans.priced_model IN (SELECT unhex(arrayJoin([${model:singlequote}]))), $model)
ORDER BY start_time DESC, span_id
LIMIT 1000
