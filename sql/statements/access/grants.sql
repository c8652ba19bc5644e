-- Every row of mq.grants: role OID, capability, topic (NULL: every topic).
SELECT g.role::pg_catalog.oid, g.capability, g.topic FROM mq.grants g
