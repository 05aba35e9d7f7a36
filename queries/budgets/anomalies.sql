-- Scopes whose spend today (UTC) is above {percent}% of their average daily
-- spend over the trailing {days} days (days without spend are not averaged in,
-- so a new scope is compared with the days it has run).
WITH toStartOfDay({now:DateTime('UTC')}) AS today_start
SELECT scope_type, scope_id, today, trailing_avg
FROM
(
    SELECT scope_type, scope_id,
           sumIf(total_cost, hour >= today_start) AS today,
           sumIf(total_cost, hour < today_start)
               / greatest(uniqExactIf(toDate(hour), hour < today_start AND total_cost > 0), 1) AS trailing_avg
    FROM {db}.spend_by_scope_hourly
    WHERE (scope_type, scope_id) IN
          (SELECT s.1, s.2 FROM (SELECT arrayJoin(arrayZip({scope_types:Array(String)},
                                                           {scope_ids:Array(String)})) AS s))
      AND hour >= today_start - toIntervalDay({days:UInt16})
    GROUP BY scope_type, scope_id
)
WHERE trailing_avg > 0 AND today * 100 > trailing_avg * {percent:UInt32}
