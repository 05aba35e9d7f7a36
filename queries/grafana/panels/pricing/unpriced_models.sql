-- Models the catalogue did not know: priced at the fallback rate, or not at all. Add them to
-- processors.pricing.models to price them exactly.
SELECT
    provider, request_model, pricing_status,
    count() AS calls,
    sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(total_cost) AS cost,
    min(start_time) AS first_seen,
    max(start_time) AS last_seen
FROM llm_spans
WHERE $__timeFilter(start_time)
  AND $__conditionalAll(llm_spans.project IN (SELECT unhex(arrayJoin([${project:singlequote}]))), $project)
  AND $__conditionalAll(llm_spans.agent IN (SELECT unhex(arrayJoin([${agent:singlequote}]))), $agent)
  AND $__conditionalAll(llm_spans.provider IN (SELECT unhex(arrayJoin([${provider:singlequote}]))), $provider)
  AND $__conditionalAll(llm_spans.priced_model IN (SELECT unhex(arrayJoin([${model:singlequote}]))), $model)
  AND pricing_status IN ('fallback', 'unpriced')
GROUP BY provider, request_model, pricing_status
ORDER BY calls DESC, provider, request_model
