-- Distinct agent runs (spendgate.run) with at least one LLM call in the selected range.
SELECT uniqExactIf(run, run != '') AS agent_runs
FROM llm_spans
WHERE $__timeFilter(start_time)
  AND $__conditionalAll(llm_spans.project IN (SELECT unhex(arrayJoin([${project:singlequote}]))), $project)
  AND $__conditionalAll(llm_spans.agent IN (SELECT unhex(arrayJoin([${agent:singlequote}]))), $agent)
  AND $__conditionalAll(llm_spans.provider IN (SELECT unhex(arrayJoin([${provider:singlequote}]))), $provider)
  AND $__conditionalAll(llm_spans.priced_model IN (SELECT unhex(arrayJoin([${model:singlequote}]))), $model)
