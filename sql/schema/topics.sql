-- pg_mq topics: the catalog of managed queues.
--
-- A row per topic: its own settings (NULL: the server's pg_mq.* setting applies), whether it
-- is paused, and when it was created. mq_create_topic / mq_alter_topic write it; a topic
-- first used without being created (published to, polled, granted on) is registered with
-- every setting NULL, by the background worker as it folds the counters, or by mq_grant.
-- Every session keeps a copy of the table (src/engine/topics.rs) that the trigger below
-- invalidates, so the hot path reads a topic's settings without a query.

CREATE TABLE mq.topics (
    topic                text        PRIMARY KEY,
    max_retries          integer,
    retry_base_delay     interval,
    retry_max_delay      interval,
    lock_timeout         interval,
    message_ttl          interval,
    max_depth            bigint,
    retention            interval,
    dedup_window         interval,
    ordering_dead_letter text,
    description          text,
    paused               boolean     NOT NULL DEFAULT false,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    CONSTRAINT topics_max_retries_check CHECK (max_retries >= 0),
    CONSTRAINT topics_intervals_check CHECK (
        retry_base_delay >= '0' AND retry_max_delay >= '0' AND lock_timeout > '0'
        AND message_ttl > '0' AND retention > '0' AND dedup_window > '0'),
    CONSTRAINT topics_max_depth_check CHECK (max_depth >= 1),
    CONSTRAINT topics_ordering_dead_letter_check CHECK (ordering_dead_letter IN ('skip', 'block'))
);

COMMENT ON TABLE mq.topics IS 'pg_mq topics and their own settings (NULL: the pg_mq.* setting applies); write through mq_create_topic / mq_alter_topic / mq_pause / mq_resume / mq_drop_topic';
COMMENT ON COLUMN mq.topics.message_ttl IS 'a message published without expires_at expires this long after it is published';
COMMENT ON COLUMN mq.topics.max_depth IS 'most messages waiting or in flight; a publish that would exceed it raises 53400';
COMMENT ON COLUMN mq.topics.paused IS 'mq_poll returns nothing while paused; publishing, settling and the worker go on';

CREATE FUNCTION mq.catalog_changed() RETURNS trigger
    LANGUAGE c
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'mq_catalog_changed_wrapper';

COMMENT ON FUNCTION mq.catalog_changed() IS 'pg_mq: makes every session read a cached pg_mq table again after a change';

-- Row-level, so a statement that changes nothing (the worker's registration of topics it
-- already knows, say) sends no invalidation.
CREATE TRIGGER topics_changed
    AFTER INSERT OR UPDATE OR DELETE ON mq.topics
    FOR EACH ROW EXECUTE FUNCTION mq.catalog_changed();

CREATE TRIGGER topics_truncated
    AFTER TRUNCATE ON mq.topics
    FOR EACH STATEMENT EXECUTE FUNCTION mq.catalog_changed();

SELECT pg_catalog.pg_extension_config_dump('mq.topics', '');
