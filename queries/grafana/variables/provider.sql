-- The provider choices: every provider with spend in the selected range.
SELECT DISTINCT provider
FROM spend_daily
WHERE day >= toDate($__fromTime, 'UTC') AND day <= toDate($__toTime, 'UTC')
  AND provider != ''
ORDER BY provider
