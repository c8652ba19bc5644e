-- pg_mq privileges: who may do what.
--
-- No pg_mq function is executable by PUBLIC and nothing in schema mq is readable by it. The
-- queue functions run as their owner (SECURITY DEFINER with search_path pinned to
-- pg_catalog, pg_temp), so a role needs only EXECUTE on the functions of a capability, which a
-- superuser gives with one call:
--
--   SELECT mq_grant('producer', 'app');            -- mq_publish, mq_publish_batch
--   SELECT mq_grant('consumer', 'worker', 'emails'); -- mq_poll, mq_complete, mq_fail; topic emails only
--   SELECT mq_grant('monitor', 'exporter');        -- metrics and queue depth
--   SELECT mq_grant('admin', 'ops');               -- everything else, and reading the tables
--
-- mq.grants records each grant; producer and consumer grants may be limited to topics, which
-- the functions check (src/privileges.rs) from a per-backend copy of the table that the
-- trigger below invalidates.

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

-- Every function of the extension, whenever it was created: not executable by PUBLIC.
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
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$$;
