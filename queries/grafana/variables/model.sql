-- The model choices: every model with spend in the selected range. Each choice's value is the
-- name in hex, so no quote or backslash in a name can change the panels' SQL.
SELECT DISTINCT model AS __text, hex(model) AS __value
FROM spend_daily
WHERE day >= toDate($__fromTime, 'UTC') AND day <= toDate($__toTime, 'UTC')
  AND model != ''
ORDER BY __text
