-- The capabilities a role still holds (for any topic).
SELECT DISTINCT g.capability FROM mq.grants g WHERE g.role = $1::pg_catalog.regrole
