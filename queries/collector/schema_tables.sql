-- The tables and views of the collector's database, with their engine clause
-- (which holds the TTL): checked at start-up against what the migrations create.
SELECT name, engine_full
FROM system.tables
WHERE database = {database:String}
