-- A webhook's cursor: the position of the last event it acknowledged (no row: never delivered).
SELECT max(position) AS position, count() AS rows
FROM {db}.event_cursors
WHERE webhook = {webhook:String}
