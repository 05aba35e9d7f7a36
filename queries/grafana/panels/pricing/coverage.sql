-- Calls and cost by how they were priced: catalogue, override, fallback rate, or not at all.
SELECT
    sumIf(calls, pricing_status = 'priced') AS priced_calls,
    sumIf(calls, pricing_status = 'override') AS override_calls,
    sumIf(calls, pricing_status = 'fallback') AS fallback_calls,
    sumIf(calls, pricing_status = 'unpriced') AS unpriced_calls,
    sumIf(total_cost, pricing_status = 'fallback') AS fallback_cost
FROM spend_daily
WHERE day >= toDate($__fromTime, 'UTC') AND day <= toDate($__toTime, 'UTC')
  AND $__conditionalAll(spend_daily.project IN (SELECT unhex(arrayJoin([${project:singlequote}]))), $project)
  AND $__conditionalAll(spend_daily.agent IN (SELECT unhex(arrayJoin([${agent:singlequote}]))), $agent)
  AND $__conditionalAll(spend_daily.provider IN (SELECT unhex(arrayJoin([${provider:singlequote}]))), $provider)
  AND $__conditionalAll(spend_daily.model IN (SELECT unhex(arrayJoin([${model:singlequote}]))), $model)
