-- Cost per UTC day, days without calls included, and the trailing seven-day average.
SELECT time, cost, seven_day_average
FROM
(
    SELECT
        toDateTime(day, 'UTC') AS time,
        cost,
        sum(cost) OVER (ORDER BY day ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) / 7 AS seven_day_average
    FROM
    (
        SELECT day, sum(total_cost) AS cost
        FROM spend_daily
        -- Six days before the range feed the first days' averages.
        WHERE day >= toDate($__fromTime, 'UTC') - 6 AND day <= toDate($__toTime, 'UTC')
          AND $__conditionalAll(spend_daily.project IN (SELECT unhex(arrayJoin([${project:singlequote}]))), $project)
          AND $__conditionalAll(spend_daily.agent IN (SELECT unhex(arrayJoin([${agent:singlequote}]))), $agent)
          AND $__conditionalAll(spend_daily.provider IN (SELECT unhex(arrayJoin([${provider:singlequote}]))), $provider)
          AND $__conditionalAll(spend_daily.model IN (SELECT unhex(arrayJoin([${model:singlequote}]))), $model)
        GROUP BY day
        ORDER BY day WITH FILL FROM toDate($__fromTime, 'UTC') - 6 TO toDate($__toTime, 'UTC') + 1 STEP 1
    )
)
WHERE time >= toDateTime(toDate($__fromTime, 'UTC'), 'UTC')
ORDER BY time
