-- The agent choices: every agent with spend in the selected range. Each choice's value is the
-- name in hex, so no quote or backslash in a name can change the panels' SQL.
SELECT DISTINCT agent AS __text, hex(agent) AS __value
FROM spend_daily
WHERE day >= toDate($__fromTime, 'UTC') AND day <= toDate($__toTime, 'UTC')
  AND agent != ''
ORDER BY __text
