-- GRANT USAGE on the schema holding pg_mq's functions, if the role lacks it (no row if it has
-- it).
SELECT pg_catalog.format('GRANT USAGE ON SCHEMA %I TO %I', n.nspname, $1) AS statement
FROM pg_catalog.pg_extension e
JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = 'pg_mq'
  AND NOT pg_catalog.has_schema_privilege($1::pg_catalog.name, n.oid, 'USAGE')
