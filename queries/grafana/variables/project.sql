-- The project choices: every project with spend in the selected range.
SELECT DISTINCT project
FROM spend_daily
WHERE day >= toDate($__fromTime, 'UTC') AND day <= toDate($__toTime, 'UTC')
  AND project != ''
ORDER BY project
