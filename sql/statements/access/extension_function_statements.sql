-- One GRANT or REVOKE statement per pg_mq function (every overload) of the given names, built
-- from a format() template with a %s for the function's full signature and a %I for the role.
SELECT pg_catalog.format($1, p.oid::pg_catalog.regprocedure, $3) AS statement
FROM pg_catalog.pg_depend d
JOIN pg_catalog.pg_proc p ON p.oid = d.objid
WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
  AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
  AND d.refobjid = (SELECT e.oid FROM pg_catalog.pg_extension e WHERE e.extname = 'pg_mq')
  AND d.deptype = 'e'
  AND p.proname = ANY ($2)
ORDER BY 1
