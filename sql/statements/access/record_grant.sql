-- Records a grant (topic NULL: every topic); no row if it was recorded already.
INSERT INTO mq.grants (role, capability, topic)
VALUES ($1::pg_catalog.regrole, $2, $3)
ON CONFLICT DO NOTHING
RETURNING 1 AS recorded
