-- The provider choices: every provider with spend in the selected range. Each choice's value is the
-- name in hex, so no quote or backslash in a name can change the panels' SQL.
SELECT DISTINCT provider AS __text, hex(provider) AS __value
FROM spend_daily
WHERE day >= toDate($__fromTime, 'UTC') AND day <= toDate($__toTime, 'UTC')
  AND provider != ''
ORDER BY __text
