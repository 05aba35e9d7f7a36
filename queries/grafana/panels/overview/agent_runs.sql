-- Distinct agent runs (spendgate.run) with at least one LLM call in the selected range.
SELECT uniqExactIf(run, run != '') AS agent_runs
FROM llm_spans
WHERE $__timeFilter(start_time)
  AND $__conditionalAll(project IN (${project:singlequote}), $project)
  AND $__conditionalAll(agent IN (${agent:singlequote}), $agent)
  AND $__conditionalAll(provider IN (${provider:singlequote}), $provider)
  AND $__conditionalAll(priced_model IN (${model:singlequote}), $model)
