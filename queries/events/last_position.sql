-- The position of the newest stored event (0 when there is none).
SELECT max(position) AS position FROM {db}.events
