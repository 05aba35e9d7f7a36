-- Cost by phase in the selected range, largest first, with each one's share of the total.
SELECT
    if(phase = '', '(none)', phase) AS phase,
    sum(calls) AS calls,
    sum(input_tokens) + sum(output_tokens) AS tokens,
    sum(total_cost) AS cost,
    -- A share is a ratio, not money: Float64 avoids Decimal(38, 18) overflow in the division.
    round(100 * toFloat64(cost) / nullIf(toFloat64(sum(sum(total_cost)) OVER ()), 0), 2) AS share_percent
FROM spend_daily
WHERE day >= toDate($__fromTime, 'UTC') AND day <= toDate($__toTime, 'UTC')
  AND $__conditionalAll(spend_daily.project IN (SELECT unhex(arrayJoin([${project:singlequote}]))), $project)
  AND $__conditionalAll(spend_daily.agent IN (SELECT unhex(arrayJoin([${agent:singlequote}]))), $agent)
  AND $__conditionalAll(spend_daily.provider IN (SELECT unhex(arrayJoin([${provider:singlequote}]))), $provider)
  AND $__conditionalAll(spend_daily.model IN (SELECT unhex(arrayJoin([${model:singlequote}]))), $model)
GROUP BY phase
ORDER BY cost DESC, phase
