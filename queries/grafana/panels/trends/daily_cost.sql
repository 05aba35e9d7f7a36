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
          AND $__conditionalAll(project IN (${project:singlequote}), $project)
          AND $__conditionalAll(agent IN (${agent:singlequote}), $agent)
          AND $__conditionalAll(provider IN (${provider:singlequote}), $provider)
          AND $__conditionalAll(model IN (${model:singlequote}), $model)
        GROUP BY day
        ORDER BY day WITH FILL FROM toDate($__fromTime, 'UTC') - 6 TO toDate($__toTime, 'UTC') + 1 STEP 1
    )
)
WHERE time >= toDateTime(toDate($__fromTime, 'UTC'), 'UTC')
ORDER BY time
