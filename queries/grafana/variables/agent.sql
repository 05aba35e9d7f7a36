-- The agent choices: every agent with spend in the selected range.
SELECT DISTINCT agent
FROM spend_daily
WHERE day >= toDate($__fromTime, 'UTC') AND day <= toDate($__toTime, 'UTC')
  AND agent != ''
ORDER BY agent
