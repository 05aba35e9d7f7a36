-- Month to date, average per day and the month projected from it, as of the range's last day (or
-- today, if the range ends later). The same figures as GET /api/v1/costs/trends.
WITH least(toDate($__toTime, 'UTC'), toDate(now(), 'UTC')) AS as_of
SELECT
    sum(total_cost) AS month_to_date,
    month_to_date / toDayOfMonth(as_of) AS average_per_day,
    average_per_day * toDayOfMonth(toLastDayOfMonth(as_of)) AS projected_month
FROM spend_daily
WHERE day >= toStartOfMonth(as_of) AND day <= as_of
  AND $__conditionalAll(spend_daily.project IN (SELECT unhex(arrayJoin([${project:singlequote}]))), $project)
  AND $__conditionalAll(spend_daily.agent IN (SELECT unhex(arrayJoin([${agent:singlequote}]))), $agent)
  AND $__conditionalAll(spend_daily.provider IN (SELECT unhex(arrayJoin([${provider:singlequote}]))), $provider)
  AND $__conditionalAll(spend_daily.model IN (SELECT unhex(arrayJoin([${model:singlequote}]))), $model)
