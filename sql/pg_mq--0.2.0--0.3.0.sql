-- pg_mq 0.2.0 -> 0.3.0.
--
-- Run with: ALTER EXTENSION pg_mq UPDATE;   (tested by tests/live/tests/lifecycle.rs, which
-- checks that the result matches a fresh CREATE EXTENSION of 0.3.0 object by object and that
-- a live queue is carried over).

\echo Use "ALTER EXTENSION pg_mq UPDATE TO '0.3.0'" to load this file. \quit

-- ---------------------------------------------------------------------------------------------
-- The client contract: no overloaded function names (a driver that sends untyped parameters
-- could not choose between them), batch acknowledgements that take leases, lease extension,
-- retry_in, the optional topic of the settling functions, and delay on mq_publish_batch.
-- (See the end of this file for the EXECUTE privileges of the re-created functions.)

DROP FUNCTION mq_complete(bigint[]);
DROP FUNCTION mq_fail(bigint[], text);
DROP FUNCTION mq_replay(bigint[]);

DROP FUNCTION mq_complete(bigint, uuid);
CREATE FUNCTION mq_complete(id bigint, lease uuid DEFAULT NULL, topic text DEFAULT NULL)
    RETURNS boolean
    SECURITY DEFINER
    SET search_path TO pg_catalog, pg_temp
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'mq_complete_wrapper';

CREATE FUNCTION mq_complete_batch(ids bigint[], leases uuid[], topic text DEFAULT NULL)
    RETURNS TABLE (id bigint, status text)
    SECURITY DEFINER
    SET search_path TO pg_catalog, pg_temp
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'mq_complete_batch_wrapper';

DROP FUNCTION mq_fail(bigint, text, uuid);
CREATE FUNCTION mq_fail(id bigint, error text DEFAULT NULL, lease uuid DEFAULT NULL,
                        retry_in interval DEFAULT NULL, topic text DEFAULT NULL)
    RETURNS text
    SECURITY DEFINER
    SET search_path TO pg_catalog, pg_temp
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'mq_fail_wrapper';

CREATE FUNCTION mq_fail_batch(ids bigint[], leases uuid[], error text DEFAULT NULL,
                              retry_in interval DEFAULT NULL, topic text DEFAULT NULL)
    RETURNS TABLE (id bigint, status text)
    SECURITY DEFINER
    SET search_path TO pg_catalog, pg_temp
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'mq_fail_batch_wrapper';

CREATE FUNCTION mq_extend(id bigint, lease uuid, extend_by interval, topic text DEFAULT NULL)
    RETURNS timestamptz
    SECURITY DEFINER
    SET search_path TO pg_catalog, pg_temp
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'mq_extend_wrapper';

CREATE FUNCTION mq_replay_batch(dead_letter_ids bigint[])
    RETURNS SETOF bigint
    SECURITY DEFINER
    SET search_path TO pg_catalog, pg_temp
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'mq_replay_batch_wrapper';

DROP FUNCTION mq_publish_batch(text, jsonb[], integer, timestamptz, integer, jsonb);
CREATE FUNCTION mq_publish_batch(topic text, payloads jsonb[], priority integer DEFAULT 0,
                                 execute_at timestamptz DEFAULT NULL,
                                 max_retries integer DEFAULT NULL, headers jsonb DEFAULT NULL,
                                 delay interval DEFAULT NULL)
    RETURNS SETOF bigint
    SECURITY DEFINER
    SET search_path TO pg_catalog, pg_temp
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'mq_publish_batch_wrapper';

-- ---------------------------------------------------------------------------------------------
-- Privileges, last: nothing new is executable by PUBLIC (a function this script created has no
-- privileges recorded yet; the others keep theirs untouched, since a REVOKE here would make
-- whatever they hold now the extension's initial privileges). The functions re-created above lost the
-- EXECUTE privileges mq_grant gave on them; they are not given back here, because privileges
-- granted inside an extension script become the extension's initial privileges, which pg_dump
-- leaves out. Run, after the update:
--   SELECT mq_grant(g.capability, r.rolname, g.topic)
--   FROM mq.grants g JOIN pg_catalog.pg_roles r ON r.oid = g.role;

DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN
        SELECT d.objid::pg_catalog.regprocedure
        FROM pg_catalog.pg_depend d
        WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
          AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
          AND d.refobjid = (SELECT e.oid FROM pg_catalog.pg_extension e WHERE e.extname = 'pg_mq')
          AND d.deptype = 'e'
          AND (SELECT p.proacl FROM pg_catalog.pg_proc p WHERE p.oid = d.objid) IS NULL
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
    IF EXISTS (SELECT 1 FROM mq.grants) THEN
        RAISE WARNING 'pg_mq 0.3.0 re-created functions of capabilities you granted; grant them again with: SELECT mq_grant(g.capability, r.rolname, g.topic) FROM mq.grants g JOIN pg_roles r ON r.oid = g.role;';
    END IF;
END
$$;
