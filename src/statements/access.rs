//! Statements of the privilege functions (`mq_grant`, `mq_revoke`) and the topic check.

/// Every row of mq.grants: role OID, capability, topic (NULL: every topic).
pub const GRANTS: &str = "
SELECT g.role::pg_catalog.oid, g.capability, g.topic FROM mq.grants g";

/// $1 message ids. The distinct topics of those messages (for roles limited to topics).
pub const MESSAGE_TOPICS: &str = "
SELECT DISTINCT m.topic FROM mq.messages m WHERE m.id = ANY ($1)";

/// $1 role OID, $2 capability, $3 topic or NULL. Records a grant; no row if it was recorded
/// already.
pub const RECORD_GRANT: &str = "
INSERT INTO mq.grants (role, capability, topic)
VALUES ($1::pg_catalog.regrole, $2, $3)
ON CONFLICT DO NOTHING
RETURNING 1";

/// $1 role OID, $2 capability, $3 topic or NULL (every grant of the capability). Deletes
/// grants; one row per grant deleted.
pub const REMOVE_GRANTS: &str = "
DELETE FROM mq.grants g
WHERE g.role = $1::pg_catalog.regrole AND g.capability = $2 AND ($3 IS NULL OR g.topic = $3)
RETURNING 1";

/// $1 role OID. The capabilities the role still holds (for any topic).
pub const HELD_CAPABILITIES: &str = "
SELECT DISTINCT g.capability FROM mq.grants g WHERE g.role = $1::pg_catalog.regrole";

/// $1 format template with a %s for the function and a %I for the role, $2 function names,
/// $3 role name. One GRANT or REVOKE statement per pg_mq function (every overload) of those
/// names, with the function's full signature and the role quoted by format().
pub const EXTENSION_FUNCTION_STATEMENTS: &str = "
SELECT pg_catalog.format($1, p.oid::pg_catalog.regprocedure, $3)
FROM pg_catalog.pg_depend d
JOIN pg_catalog.pg_proc p ON p.oid = d.objid
WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
  AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
  AND d.refobjid = (SELECT e.oid FROM pg_catalog.pg_extension e WHERE e.extname = 'pg_mq')
  AND d.deptype = 'e'
  AND p.proname = ANY ($2)
ORDER BY 1";

/// $1 role name. GRANT USAGE on the schema holding pg_mq's functions, if the role lacks it
/// (no row if it has it).
pub const EXTENSION_SCHEMA_USAGE: &str = "
SELECT pg_catalog.format('GRANT USAGE ON SCHEMA %I TO %I', n.nspname, $1)
FROM pg_catalog.pg_extension e
JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = 'pg_mq'
  AND NOT pg_catalog.has_schema_privilege($1::pg_catalog.name, n.oid, 'USAGE')";

/// $1 identifier. The identifier quoted for SQL text where needed.
pub const QUOTE_IDENT: &str = "SELECT pg_catalog.quote_ident($1)";
