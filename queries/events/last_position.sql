-- The position of the newest stored event, of a type or of any (''); 0 when there is none.
SELECT max(position) AS position
FROM {db}.events
WHERE {type:String} = '' OR type = {type:String}
