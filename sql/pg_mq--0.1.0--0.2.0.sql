-- pg_mq 0.1.0 -> 0.2.0: least privilege, and queues that survive pg_dump / pg_restore.
--
-- Run with: ALTER EXTENSION pg_mq UPDATE;   (tested by tests/live/tests/lifecycle.rs, which
-- also checks that the result matches a fresh CREATE EXTENSION of 0.2.0 object by object).
--
-- After the update no pg_mq function is executable by PUBLIC any more: give each application
-- role its capability with mq_grant (see the Security section of the README).

\echo Use "ALTER EXTENSION pg_mq UPDATE TO '0.2.0'" to load this file. \quit

-- Dump and restore the queue with the database.
SELECT pg_catalog.pg_extension_config_dump('mq.messages', '');
SELECT pg_catalog.pg_extension_config_dump('mq.messages_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mq.dead_letters', '');
SELECT pg_catalog.pg_extension_config_dump('mq.dead_letters_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mq.traces', '');
SELECT pg_catalog.pg_extension_config_dump('mq.traces_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mq.metric_counts', '');
SELECT pg_catalog.pg_extension_config_dump('mq.metric_totals', '');
SELECT pg_catalog.pg_extension_config_dump('mq.metric_snapshots', '');
SELECT pg_catalog.pg_extension_config_dump('mq.metric_samples', '');

-- Capabilities (as in sql/privileges.sql of 0.2.0).
CREATE TABLE mq.grants (
    role       regrole     NOT NULL,
    capability text        NOT NULL,
    topic      text,
    granted_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT grants_capability_check
        CHECK (capability IN ('producer', 'consumer', 'monitor', 'admin')),
    CONSTRAINT grants_topic_check
        CHECK (topic IS NULL OR capability IN ('producer', 'consumer'))
);

COMMENT ON TABLE mq.grants IS 'pg_mq capabilities granted with mq_grant; topic NULL means every topic';

CREATE UNIQUE INDEX grants_role_capability_topic_idx
    ON mq.grants (role, capability, (coalesce(topic, '')));

CREATE FUNCTION mq.grants_changed() RETURNS trigger
    LANGUAGE c
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_grants_changed_wrapper';

COMMENT ON FUNCTION mq.grants_changed() IS 'pg_mq: makes every session read mq.grants again after a change';

CREATE TRIGGER grants_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mq.grants
    FOR EACH STATEMENT EXECUTE FUNCTION mq.grants_changed();

CREATE FUNCTION mq_grant(capability text, role name, topic text DEFAULT NULL)
    RETURNS void
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_grant_wrapper';

COMMENT ON FUNCTION mq_grant(text, name, text) IS
    'pg_mq: give a role a capability (producer, consumer, monitor, admin), for every topic or one';

CREATE FUNCTION mq_revoke(capability text, role name, topic text DEFAULT NULL)
    RETURNS void
    LANGUAGE c VOLATILE
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_revoke_wrapper';

COMMENT ON FUNCTION mq_revoke(text, name, text) IS
    'pg_mq: take a capability (or its grant for one topic) away from a role';

SELECT pg_catalog.pg_extension_config_dump('mq.grants', '');

-- The functions of 0.1.0 pin their search_path and, but for the two internal helpers, run as
-- their owner; no function of pg_mq, old or new, is executable by PUBLIC.
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
    LOOP
        IF f IN ('mq.current_metrics(timestamptz)'::pg_catalog.regprocedure,
                 'mq.check_paging(integer, integer)'::pg_catalog.regprocedure) THEN
            EXECUTE pg_catalog.format(
                'ALTER FUNCTION %s SET search_path = pg_catalog, pg_temp', f);
        ELSIF f NOT IN ('mq.grants_changed()'::pg_catalog.regprocedure,
                        'mq_grant(text, name, text)'::pg_catalog.regprocedure,
                        'mq_revoke(text, name, text)'::pg_catalog.regprocedure) THEN
            EXECUTE pg_catalog.format(
                'ALTER FUNCTION %s SECURITY DEFINER SET search_path = pg_catalog, pg_temp', f);
        END IF;
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$$;
