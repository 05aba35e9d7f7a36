-- The model choices: every model with spend in the selected range.
SELECT DISTINCT model
FROM spend_daily
WHERE day >= toDate($__fromTime, 'UTC') AND day <= toDate($__toTime, 'UTC')
  AND model != ''
ORDER BY model
