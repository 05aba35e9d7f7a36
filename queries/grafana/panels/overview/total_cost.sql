-- Total cost of the selected range. Cost panels read the daily rollup, so they count whole UTC days.
SELECT sum(total_cost) AS total_cost
FROM spend_daily
WHERE day >= toDate($__fromTime, 'UTC') AND day <= toDate($__toTime, 'UTC')
  AND $__conditionalAll(spend_daily.project IN (SELECT unhex(arrayJoin([${project:singlequote}]))), $project)
  AND $__conditionalAll(spend_daily.agent IN (SELECT unhex(arrayJoin([${agent:singlequote}]))), $agent)
  AND $__conditionalAll(spend_daily.provider IN (SELECT unhex(arrayJoin([${provider:singlequote}]))), $provider)
  AND $__conditionalAll(spend_daily.model IN (SELECT unhex(arrayJoin([${model:singlequote}]))), $model)
