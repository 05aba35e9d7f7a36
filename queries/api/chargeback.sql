-- One month's spend per owner (the project or team of by) and ticket, from the daily rollup (UTC
-- days, kept 365 days), with the owner each ticket was seen with: the one with the most spend on it
-- anywhere in the rollup, ties to the greater name ('' when the ticket was never seen with one).
-- owner = '' is shared spend, which the chargeback report allocates (collector/api/allocation.py).
-- daily_key_of(by) is multiIf(by = 'project', project, ..., '') over the API's dimensions.
SELECT month_rows.owner AS owner, month_rows.ticket AS ticket, known.owner AS ticket_owner,
       month_rows.calls AS calls, month_rows.total_cost AS total_cost
FROM (
    WITH {by:String} AS by
    SELECT {daily_key_of(by)} AS owner, ticket, sum(calls) AS calls, sum(total_cost) AS total_cost
    FROM {db}.spend_daily
    WHERE day >= {start:Date} AND day <= {end:Date}
    GROUP BY owner, ticket
) AS month_rows
LEFT JOIN (
    SELECT ticket, argMax(owner, (cost, owner)) AS owner
    FROM (
        WITH {by:String} AS by
        SELECT ticket, {daily_key_of(by)} AS owner, sum(total_cost) AS cost
        FROM {db}.spend_daily
        WHERE ticket != '' AND owner != ''
        GROUP BY ticket, owner
    )
    GROUP BY ticket
) AS known ON month_rows.ticket = known.ticket
ORDER BY owner, ticket
SETTINGS join_use_nulls = 0
