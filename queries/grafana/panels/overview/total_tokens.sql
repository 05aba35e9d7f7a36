-- Input plus output tokens (cached input and reasoning output included) in the selected range.
SELECT sum(input_tokens) + sum(output_tokens) AS tokens
FROM spend_daily
WHERE day >= toDate($__fromTime, 'UTC') AND day <= toDate($__toTime, 'UTC')
  AND $__conditionalAll(project IN (${project:singlequote}), $project)
  AND $__conditionalAll(agent IN (${agent:singlequote}), $agent)
  AND $__conditionalAll(provider IN (${provider:singlequote}), $provider)
  AND $__conditionalAll(model IN (${model:singlequote}), $model)
