-- The installed version of the extension in this database: no row when it is not installed.
-- (The background worker asks every tick.)
SELECT e.extversion FROM pg_catalog.pg_extension e WHERE e.extname = 'pg_mq'
