-- Calls whose token counts were estimated because the provider reported none (a stream cut short,
-- say), per provider and model.
SELECT
    provider, priced_model AS model,
    count() AS calls,
    sum(input_tokens) + sum(output_tokens) AS tokens,
    sum(total_cost) AS cost
FROM llm_spans
WHERE $__timeFilter(start_time)
  AND $__conditionalAll(llm_spans.project IN (SELECT unhex(arrayJoin([${project:singlequote}]))), $project)
  AND $__conditionalAll(llm_spans.agent IN (SELECT unhex(arrayJoin([${agent:singlequote}]))), $agent)
  AND $__conditionalAll(llm_spans.provider IN (SELECT unhex(arrayJoin([${provider:singlequote}]))), $provider)
  AND $__conditionalAll(llm_spans.priced_model IN (SELECT unhex(arrayJoin([${model:singlequote}]))), $model)
  AND usage_estimated
GROUP BY provider, model
ORDER BY calls DESC, provider, model
