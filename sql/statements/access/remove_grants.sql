-- Deletes a role's grants of a capability, for one topic or (topic NULL) every grant of it;
-- one row per grant deleted.
DELETE FROM mq.grants g
WHERE g.role = $1::pg_catalog.regrole AND g.capability = $2 AND ($3 IS NULL OR g.topic = $3)
RETURNING 1 AS removed
