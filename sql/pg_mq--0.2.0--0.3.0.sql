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

CREATE FUNCTION mq_promote()
    RETURNS bigint
    STRICT SECURITY DEFINER
    SET search_path TO pg_catalog, pg_temp
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'mq_promote_wrapper';

DROP FUNCTION mq_publish_batch(text, jsonb[], integer, timestamptz, integer, jsonb);
CREATE FUNCTION "mq_publish_batch"(
	"topic" TEXT,
	"payloads" jsonb[],
	"priority" INT DEFAULT 0,
	"execute_at" timestamp with time zone DEFAULT NULL,
	"max_retries" INT DEFAULT NULL,
	"headers" jsonb DEFAULT NULL,
	"delay" interval DEFAULT NULL,
	"expires_at" timestamp with time zone DEFAULT NULL,
	"ordering_keys" TEXT[] DEFAULT NULL,
	"dedup_keys" TEXT[] DEFAULT NULL
) RETURNS SETOF bigint
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'mq_publish_batch_wrapper';

-- ---------------------------------------------------------------------------------------------
-- Scale: claims never walk over messages that are not due, and the metrics cost one row per
-- topic however long the queue.

-- Messages not due yet are SCHEDULED (out of the claim index) until they fall due.
ALTER TABLE mq.messages DROP CONSTRAINT messages_status_check;
ALTER TABLE mq.messages ADD CONSTRAINT messages_status_check
    CHECK (status IN ('WAITING', 'SCHEDULED', 'PENDING', 'PROCESSING', 'COMPLETED', 'FAILED',
                      'EXPIRED'));
UPDATE mq.messages SET status = 'SCHEDULED'
WHERE status = 'PENDING' AND coalesce(next_retry_at, execute_at) > pg_catalog.clock_timestamp();
CREATE INDEX messages_scheduled_idx
    ON mq.messages ((coalesce(next_retry_at, execute_at)))
    WHERE status = 'SCHEDULED';
CREATE INDEX messages_scheduled_topic_idx
    ON mq.messages (topic, id)
    WHERE status = 'SCHEDULED';

DROP FUNCTION mq_messages(text, text, uuid, integer, integer);
-- Messages, filtered by topic, status, trace id, ordering key, dedup key and headers (NULL:
-- any), newest first. With a topic, each status is read through an index that leads with the
-- topic (the claim indexes, messages_finished_idx, messages_waiting_idx,
-- messages_scheduled_topic_idx) or through the small index of in-flight rows, each part taking
-- its newest rows up to the page's end, planned for the arguments of the call; so a page costs
-- what the topic holds in the statuses asked for, not what the table holds. A dedup key is
-- looked up in mq.dedup_keys, so it finds its message while the topic remembers the key.
CREATE FUNCTION mq_messages(topic text DEFAULT NULL, status text DEFAULT NULL,
                            trace_id uuid DEFAULT NULL, page integer DEFAULT 1,
                            page_size integer DEFAULT 50, ordering_key text DEFAULT NULL,
                            dedup_key text DEFAULT NULL, headers jsonb DEFAULT NULL)
RETURNS SETOF mq.messages
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- The filters every part applies; $1 .. $8 are the arguments, $9 the page's end.
    filters constant text :=
        ' AND ($3 IS NULL OR m.trace_id = $3) AND ($6 IS NULL OR m.ordering_key = $6)'
        ' AND ($8 IS NULL OR coalesce(m.headers, (SELECT p.headers FROM mq.payloads p'
        ' WHERE p.id = m.payload_id)) @> $8)';
    parts text;
BEGIN
    PERFORM mq.check_paging($4, $5);
    IF $2 IS NOT NULL AND $2 NOT IN ('WAITING', 'SCHEDULED', 'PENDING', 'PROCESSING', 'COMPLETED',
                                     'FAILED', 'EXPIRED') THEN
        RAISE EXCEPTION 'argument "status" must be WAITING, SCHEDULED, PENDING, PROCESSING, COMPLETED, FAILED or EXPIRED, got %', $2
            USING ERRCODE = '22023';
    END IF;
    IF $8 IS NOT NULL AND jsonb_typeof($8) <> 'object' THEN
        RAISE EXCEPTION 'argument "headers" must be a JSON object, got %', jsonb_typeof($8)
            USING ERRCODE = '22023';
    END IF;
    IF $7 IS NOT NULL THEN
        -- The message that took the key (point-to-point), or the deliveries of it (groups).
        RETURN QUERY EXECUTE
            'SELECT m.* FROM mq.messages m'
            ' WHERE m.id IN (SELECT d.message_id FROM mq.dedup_keys d'
            '                WHERE d.dedup_key = $7 AND ($1 IS NULL OR d.topic = $1)'
            '                UNION ALL'
            '                SELECT g.id FROM mq.dedup_keys d JOIN mq.messages g ON g.payload_id = d.message_id'
            '                WHERE d.dedup_key = $7 AND ($1 IS NULL OR d.topic = $1))'
            ' AND ($1 IS NULL OR m.topic = $1) AND ($2 IS NULL OR m.status = $2)' || filters ||
            ' ORDER BY m.id DESC LIMIT $5 OFFSET $9 - $5'
            USING $1, $2, $3, $4, $5, $6, $7, $8, $4::bigint * $5;
        RETURN;
    END IF;
    IF $1 IS NULL THEN
        RETURN QUERY EXECUTE
            'SELECT m.* FROM mq.messages m WHERE ($2 IS NULL OR m.status = $2)' || filters ||
            ' ORDER BY m.id DESC LIMIT $5 OFFSET $9 - $5'
            USING $1, $2, $3, $4, $5, $6, $7, $8, $4::bigint * $5;
        RETURN;
    END IF;
    SELECT string_agg(format('(SELECT m.* FROM mq.messages m WHERE m.topic = $1 AND %s%s'
                             ' ORDER BY m.id DESC LIMIT $9)', p.condition, filters),
                      ' UNION ALL ')
    INTO parts
    FROM (VALUES
        ('WAITING', 'm.status = ''WAITING'''),
        ('SCHEDULED', 'm.status = ''SCHEDULED'''),
        ('PENDING', 'm.status = ''PENDING'' AND m.consumer_group IS NULL'),
        -- a group's claim index leads with the group: the groups are found by skipping
        -- through it, one probe per group
        ('PENDING', 'm.status = ''PENDING'' AND m.consumer_group = ANY (ARRAY('
                    'WITH RECURSIVE g(name) AS ('
                    ' SELECT min(x.consumer_group) FROM mq.messages x'
                    ' WHERE x.status = ''PENDING'' AND x.consumer_group IS NOT NULL'
                    ' UNION ALL'
                    ' SELECT (SELECT min(x.consumer_group) FROM mq.messages x'
                    '         WHERE x.status = ''PENDING'' AND x.consumer_group IS NOT NULL'
                    '           AND x.consumer_group > g.name)'
                    ' FROM g WHERE g.name IS NOT NULL)'
                    ' SELECT g.name FROM g WHERE g.name IS NOT NULL))'),
        ('PROCESSING', 'm.status = ''PROCESSING'' AND m.locked_until IS NOT NULL'),
        ('COMPLETED', 'm.status = ''COMPLETED'''),
        ('FAILED', 'm.status = ''FAILED'''),
        ('EXPIRED', 'm.status = ''EXPIRED''')) AS p(status, condition)
    WHERE $2 IS NULL OR p.status = $2;
    RETURN QUERY EXECUTE
        'SELECT m.* FROM (' || parts || ') m ORDER BY m.id DESC LIMIT $5 OFFSET $9 - $5'
        USING $1, $2, $3, $4, $5, $6, $7, $8, $4::bigint * $5;
END
$$;

CREATE OR REPLACE FUNCTION mq_traces(topic text DEFAULT NULL, message_id bigint DEFAULT NULL,
                          event text DEFAULT NULL, page integer DEFAULT 1,
                          page_size integer DEFAULT 50)
RETURNS SETOF mq.traces
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    message_trace uuid;
BEGIN
    PERFORM mq.check_paging($4, $5);
    IF $3 IS NOT NULL AND $3 NOT IN ('PUBLISHED', 'PROCESSING', 'COMPLETED', 'FAILED',
                                     'DEAD_LETTERED', 'REPLAYED', 'RECOVERED', 'PURGED',
                                     'EXPIRED') THEN
        RAISE EXCEPTION 'argument "event" must be a pg_mq trace event, got %', $3
            USING ERRCODE = '22023',
                  HINT = 'PUBLISHED, PROCESSING, COMPLETED, FAILED, DEAD_LETTERED, REPLAYED, RECOVERED, PURGED or EXPIRED';
    END IF;
    IF $2 IS NOT NULL THEN
        -- A message's rows share its trace id: look them up through the primary key.
        SELECT m.trace_id INTO message_trace FROM mq.messages m WHERE m.id = $2;
    END IF;
    -- The rows, the PROCESSING event of each attempt a row ended (kept in the row that ended
    -- it), and the PROCESSING event of each attempt in flight (read from its message); see
    -- mq.traces. The PROCESSING events have no started_id, started_at, locked_until of their own.
    RETURN QUERY
        SELECT x.*
        FROM (
            SELECT t.*
            FROM mq.traces t
            WHERE ($1 IS NULL OR t.topic = $1)
              AND ($2 IS NULL OR t.message_id = $2)
              AND (message_trace IS NULL OR t.trace_id = message_trace)
              AND ($3 IS NULL OR t.event = $3)
            UNION ALL
            SELECT t.started_id, t.trace_id, t.message_id, t.topic, 'PROCESSING',
                   jsonb_build_object('consumer_id', t.detail -> 'consumer_id',
                                      'attempt', t.detail -> 'attempt',
                                      'locked_until', t.locked_until)
                   || CASE WHEN t.detail ? 'consumer_group'
                           THEN jsonb_build_object('consumer_group', t.detail -> 'consumer_group')
                           ELSE '{}'::jsonb END,
                   t.started_at, NULL::bigint, NULL::timestamptz, NULL::timestamptz
            FROM mq.traces t
            WHERE t.started_id IS NOT NULL
              AND ($1 IS NULL OR t.topic = $1)
              AND ($2 IS NULL OR t.message_id = $2)
              AND (message_trace IS NULL OR t.trace_id = message_trace)
              AND ($3 IS NULL OR $3 = 'PROCESSING')
            UNION ALL
            SELECT m.processing_id, m.trace_id, m.id, m.topic, 'PROCESSING',
                   jsonb_build_object('consumer_id', m.consumer_id, 'attempt', m.retry_count + 1,
                                      'locked_until', m.locked_until)
                   || CASE WHEN m.consumer_group IS NULL THEN '{}'::jsonb
                           ELSE jsonb_build_object('consumer_group', m.consumer_group) END,
                   m.locked_at, NULL::bigint, NULL::timestamptz, NULL::timestamptz
            FROM mq.messages m
            WHERE m.locked_until IS NOT NULL AND m.status = 'PROCESSING'
              AND m.processing_id IS NOT NULL
              AND ($1 IS NULL OR m.topic = $1)
              AND ($2 IS NULL OR m.id = $2)
              AND ($3 IS NULL OR $3 = 'PROCESSING')
        ) x
        ORDER BY x.id DESC
        LIMIT $5 OFFSET ($4 - 1)::bigint * $5;
END
$$;

-- The gauges are kept as messages move: the counters' tables get their new columns (the old
-- increments are folded first), and the totals start from the messages as they are now.
WITH moved AS (
    DELETE FROM mq.metric_counts RETURNING topic, consumed, failed, dead_lettered
)
INSERT INTO mq.metric_totals AS t (topic, consumed, failed, dead_lettered, updated_at)
SELECT topic, sum(consumed), sum(failed), sum(dead_lettered), pg_catalog.now()
FROM moved
GROUP BY topic
ON CONFLICT (topic) DO UPDATE
SET consumed = t.consumed + excluded.consumed,
    failed = t.failed + excluded.failed,
    dead_lettered = t.dead_lettered + excluded.dead_lettered;
ALTER TABLE mq.metric_totals RENAME TO metric_totals_0_2_0;
ALTER TABLE mq.metric_totals_0_2_0 RENAME CONSTRAINT metric_totals_pkey TO metric_totals_0_2_0_pkey;
-- Leaving the extension first takes a table off pg_dump's list of configuration tables too.
ALTER EXTENSION pg_mq DROP TABLE mq.metric_counts;
DROP TABLE mq.metric_counts;

-- The latency histograms' helpers (Rust) and their aggregate.
CREATE FUNCTION mq."histogram_add"(
	"a" bigint[],
	"b" bigint[]
) RETURNS bigint[]
IMMUTABLE PARALLEL SAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'histogram_add_wrapper';

CREATE FUNCTION mq."latency_histogram"(
	"seconds" double precision[]
) RETURNS bigint[]
IMMUTABLE PARALLEL SAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'latency_histogram_wrapper';

CREATE TABLE mq.metric_counts (
    topic          text        NOT NULL,
    consumer_group text        NOT NULL DEFAULT '',
    pending_in    bigint,
    pending_out   bigint,
    delayed       bigint,
    processing    bigint,
    dead_letters  bigint,
    consumed      bigint,
    failed        bigint,
    dead_lettered bigint,
    expired       bigint,
    delivered     bigint,
    deduplicated  bigint,
    oldest_due    timestamptz,
    counted_at    timestamptz NOT NULL,
    consumer_id   text,
    lease_expired bigint,
    last_error    text,
    delivery_latency       bigint[],
    delivery_latency_sum   double precision,
    processing_latency     bigint[],
    processing_latency_sum double precision
);

-- A capped topic's publishers add its unfolded rows to its totals (mq.topic_depth).
CREATE INDEX metric_counts_topic_idx ON mq.metric_counts (topic);

COMMENT ON TABLE mq.metric_counts IS 'pg_mq changes of the gauges and counters not yet folded into mq.metric_totals';
COMMENT ON COLUMN mq.metric_counts.pending_in IS 'messages that became PENDING';
COMMENT ON COLUMN mq.metric_counts.pending_out IS 'PENDING messages that were claimed or removed';
COMMENT ON COLUMN mq.metric_counts.processing IS 'change of the number of messages in flight';
COMMENT ON COLUMN mq.metric_counts.dead_letters IS 'change of the number of dead letters not replayed';
COMMENT ON COLUMN mq.metric_counts.oldest_due IS 'earliest due time of the messages that became PENDING';
COMMENT ON COLUMN mq.metric_counts.expired IS 'messages that expired';
COMMENT ON COLUMN mq.metric_counts.delivered IS 'deliveries handed out by mq_poll';
COMMENT ON COLUMN mq.metric_counts.deduplicated IS 'publishes that returned an earlier message of their dedup_key';
COMMENT ON COLUMN mq.metric_counts.consumer_id IS 'the consumer whose deliveries a claim, completion or failure counts (NULL for the others)';
COMMENT ON COLUMN mq.metric_counts.lease_expired IS 'deliveries whose lock expired (also counted in failed)';
COMMENT ON COLUMN mq.metric_counts.last_error IS 'the error a failure reported';
COMMENT ON COLUMN mq.metric_counts.delivery_latency IS 'first deliveries per latency bucket (mq_core::latency::BOUNDS): seconds from due to delivery';
COMMENT ON COLUMN mq.metric_counts.processing_latency IS 'completions per latency bucket: seconds from delivery to completion';
COMMENT ON COLUMN mq.metric_counts.delayed IS 'change of the number of messages not deliverable yet: SCHEDULED, or WAITING behind their ordering key';

CREATE TABLE mq.metric_totals (
    topic          text        NOT NULL,
    consumer_group text        NOT NULL DEFAULT '',
    pending       bigint      NOT NULL DEFAULT 0,
    delayed       bigint      NOT NULL DEFAULT 0,
    processing    bigint      NOT NULL DEFAULT 0,
    dead_letters  bigint      NOT NULL DEFAULT 0,
    consumed      bigint      NOT NULL DEFAULT 0,
    failed        bigint      NOT NULL DEFAULT 0,
    dead_lettered bigint      NOT NULL DEFAULT 0,
    expired       bigint      NOT NULL DEFAULT 0,
    delivered     bigint      NOT NULL DEFAULT 0,
    deduplicated  bigint      NOT NULL DEFAULT 0,
    last_delivery_at timestamptz,
    oldest_due    timestamptz,
    updated_at    timestamptz NOT NULL,
    delivery_latency       bigint[],
    delivery_latency_sum   double precision NOT NULL DEFAULT 0,
    processing_latency     bigint[],
    processing_latency_sum double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (topic, consumer_group)
);

COMMENT ON TABLE mq.metric_totals IS 'pg_mq gauges and counters per topic and consumer group ('''': point-to-point), as of the last fold';
COMMENT ON COLUMN mq.metric_totals.failed IS 'failed deliveries: mq_fail calls and expired locks';
COMMENT ON COLUMN mq.metric_totals.oldest_due IS 'earliest due time of the PENDING messages';

-- Latency histograms add up bucket by bucket (mq.histogram_add is the extension's own).
CREATE AGGREGATE mq.histogram_sum(bigint[]) (SFUNC = mq.histogram_add, STYPE = bigint[]);


INSERT INTO mq.metric_totals (topic, consumed, failed, dead_lettered, updated_at)
SELECT topic, consumed, failed, dead_lettered, updated_at FROM mq.metric_totals_0_2_0;
ALTER EXTENSION pg_mq DROP TABLE mq.metric_totals_0_2_0;
DROP TABLE mq.metric_totals_0_2_0;
WITH queue AS (
    SELECT topic,
           count(*) FILTER (WHERE status = 'PENDING') AS pending,
           count(*) FILTER (WHERE status = 'SCHEDULED') AS delayed,
           count(*) FILTER (WHERE status = 'PROCESSING') AS processing,
           min(coalesce(next_retry_at, execute_at)) FILTER (WHERE status = 'PENDING') AS oldest_due
    FROM mq.messages
    WHERE status IN ('SCHEDULED', 'PENDING', 'PROCESSING')
    GROUP BY topic
)
INSERT INTO mq.metric_totals AS t (topic, pending, delayed, processing, oldest_due, updated_at)
SELECT topic, pending, delayed, processing, oldest_due, pg_catalog.now() FROM queue
ON CONFLICT (topic, consumer_group) DO UPDATE
SET pending = excluded.pending, delayed = excluded.delayed, processing = excluded.processing,
    oldest_due = excluded.oldest_due;
INSERT INTO mq.metric_totals AS t (topic, dead_letters, updated_at)
SELECT topic, count(*), pg_catalog.now() FROM mq.dead_letters WHERE NOT replayed GROUP BY topic
ON CONFLICT (topic, consumer_group) DO UPDATE SET dead_letters = excluded.dead_letters;
-- Per consumer (consumer_id, as mq_poll recorded it), topic and consumer group: what the folds
-- counted of its claims, completions and failures. Read by mq_consumers with the rows not folded
-- yet; consumers not seen for pg_mq.completed_retention are forgotten by retention.
CREATE TABLE mq.consumer_totals (
    consumer_id    text        NOT NULL,
    topic          text        NOT NULL,
    consumer_group text        NOT NULL DEFAULT '',
    first_seen     timestamptz NOT NULL,
    last_claim_at  timestamptz,
    last_ack_at    timestamptz,
    last_seen      timestamptz NOT NULL,
    claimed        bigint      NOT NULL DEFAULT 0,
    completed      bigint      NOT NULL DEFAULT 0,
    failed         bigint      NOT NULL DEFAULT 0,
    lease_expired  bigint      NOT NULL DEFAULT 0,
    last_lease_expired_at timestamptz,
    last_error     text,
    last_error_at  timestamptz,
    PRIMARY KEY (consumer_id, topic, consumer_group)
);

CREATE INDEX consumer_totals_last_seen_idx ON mq.consumer_totals (last_seen);

COMMENT ON TABLE mq.consumer_totals IS 'pg_mq claims, completions and failures per consumer, topic and consumer group, as of the last fold';
COMMENT ON COLUMN mq.consumer_totals.failed IS 'deliveries the consumer failed with mq_fail';
COMMENT ON COLUMN mq.consumer_totals.lease_expired IS 'deliveries whose lock expired while the consumer held them';

SELECT pg_catalog.pg_extension_config_dump('mq.metric_counts', '');
SELECT pg_catalog.pg_extension_config_dump('mq.consumer_totals', '');
SELECT pg_catalog.pg_extension_config_dump('mq.metric_totals', '');

CREATE FUNCTION mq.oldest_pending_due(for_topic text, for_group text)
RETURNS timestamptz
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF for_group = '' THEN
        RETURN (
            WITH RECURSIVE levels(priority) AS (
                (SELECT m.priority FROM mq.messages m
                 WHERE m.status = 'PENDING' AND m.consumer_group IS NULL AND m.topic = for_topic
                 ORDER BY m.priority DESC LIMIT 1)
                UNION ALL
                SELECT (SELECT m.priority FROM mq.messages m
                        WHERE m.status = 'PENDING' AND m.consumer_group IS NULL
                          AND m.topic = for_topic AND m.priority < l.priority
                        ORDER BY m.priority DESC LIMIT 1)
                FROM levels l
                WHERE l.priority IS NOT NULL
            )
            SELECT min((SELECT coalesce(m.next_retry_at, m.execute_at) FROM mq.messages m
                        WHERE m.status = 'PENDING' AND m.consumer_group IS NULL
                          AND m.topic = for_topic AND m.priority = l.priority
                        ORDER BY coalesce(m.next_retry_at, m.execute_at), m.id LIMIT 1))
            FROM levels l
            WHERE l.priority IS NOT NULL);
    END IF;
    RETURN (
        WITH RECURSIVE levels(priority) AS (
            (SELECT m.priority FROM mq.messages m
             WHERE m.status = 'PENDING' AND m.consumer_group = for_group AND m.topic = for_topic
             ORDER BY m.priority DESC LIMIT 1)
            UNION ALL
            SELECT (SELECT m.priority FROM mq.messages m
                    WHERE m.status = 'PENDING' AND m.consumer_group = for_group
                      AND m.topic = for_topic AND m.priority < l.priority
                    ORDER BY m.priority DESC LIMIT 1)
            FROM levels l
            WHERE l.priority IS NOT NULL
        )
        SELECT min((SELECT coalesce(m.next_retry_at, m.execute_at) FROM mq.messages m
                    WHERE m.status = 'PENDING' AND m.consumer_group = for_group
                      AND m.topic = for_topic AND m.priority = l.priority
                    ORDER BY coalesce(m.next_retry_at, m.execute_at), m.id LIMIT 1))
        FROM levels l
        WHERE l.priority IS NOT NULL);
END
$$;

COMMENT ON FUNCTION mq.oldest_pending_due(text, text) IS 'pg_mq: the earliest due time of the PENDING messages of a topic and consumer group ('''': point-to-point)';

-- The current metrics gain the expired counter and the dead letters gauge: the view and the
-- function over them are re-created with them.
DROP FUNCTION mq_depth(text);
DROP VIEW mq.queue_depth;
DROP FUNCTION mq.current_metrics(timestamptz);
CREATE FUNCTION mq.current_metrics(at_time timestamptz)
RETURNS TABLE (
    topic              text,
    consumer_group     text,
    pending            bigint,
    delayed            bigint,
    processing         bigint,
    consumed_total     bigint,
    failed_total       bigint,
    dead_letter_total  bigint,
    oldest_pending_age interval,
    expired_total      bigint,
    dead_letters       bigint,
    delivered_total    bigint,
    last_delivery_at   timestamptz,
    deduplicated_total bigint,
    delivery_latency       bigint[],
    delivery_latency_sum   double precision,
    processing_latency     bigint[],
    processing_latency_sum double precision
)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH unfolded AS (
        SELECT c.topic, c.consumer_group,
               sum(c.pending_in - c.pending_out)::bigint AS pending,
               sum(c.pending_out)::bigint AS pending_out,
               sum(c.delayed)::bigint AS delayed,
               sum(c.processing)::bigint AS processing,
               sum(c.consumed)::bigint AS consumed,
               sum(c.failed)::bigint AS failed,
               sum(c.dead_lettered)::bigint AS dead_lettered,
               sum(c.expired)::bigint AS expired,
               sum(c.dead_letters)::bigint AS dead_letters,
               sum(c.delivered)::bigint AS delivered,
               sum(c.deduplicated)::bigint AS deduplicated,
               max(c.counted_at) FILTER (WHERE c.delivered > 0) AS last_delivery_at,
               min(c.oldest_due) AS oldest_due,
               mq.histogram_sum(c.delivery_latency) AS delivery_latency,
               sum(c.delivery_latency_sum) AS delivery_latency_sum,
               mq.histogram_sum(c.processing_latency) AS processing_latency,
               sum(c.processing_latency_sum) AS processing_latency_sum
        FROM (SELECT topic, consumer_group, counted_at, oldest_due,
                     coalesce(pending_in, 0) AS pending_in, coalesce(pending_out, 0) AS pending_out,
                     coalesce(delayed, 0) AS delayed, coalesce(processing, 0) AS processing,
                     coalesce(consumed, 0) AS consumed, coalesce(failed, 0) AS failed,
                     coalesce(dead_lettered, 0) AS dead_lettered, coalesce(expired, 0) AS expired,
                     coalesce(dead_letters, 0) AS dead_letters,
                     coalesce(delivered, 0) AS delivered,
                     coalesce(deduplicated, 0) AS deduplicated, delivery_latency,
                     coalesce(delivery_latency_sum, 0) AS delivery_latency_sum,
                     processing_latency,
                     coalesce(processing_latency_sum, 0) AS processing_latency_sum
              FROM mq.metric_counts) c
        GROUP BY c.topic, c.consumer_group
    ), now_values AS (
        SELECT coalesce(t.topic, u.topic) AS topic,
               coalesce(t.consumer_group, u.consumer_group) AS consumer_group,
               coalesce(t.pending, 0) + coalesce(u.pending, 0) AS pending,
               coalesce(t.delayed, 0) + coalesce(u.delayed, 0) AS delayed,
               coalesce(t.processing, 0) + coalesce(u.processing, 0) AS processing,
               coalesce(t.consumed, 0) + coalesce(u.consumed, 0) AS consumed,
               coalesce(t.failed, 0) + coalesce(u.failed, 0) AS failed,
               coalesce(t.dead_lettered, 0) + coalesce(u.dead_lettered, 0) AS dead_lettered,
               coalesce(t.expired, 0) + coalesce(u.expired, 0) AS expired,
               coalesce(t.dead_letters, 0) + coalesce(u.dead_letters, 0) AS dead_letters,
               coalesce(t.delivered, 0) + coalesce(u.delivered, 0) AS delivered,
               coalesce(t.deduplicated, 0) + coalesce(u.deduplicated, 0) AS deduplicated,
               greatest(t.last_delivery_at, u.last_delivery_at) AS last_delivery_at,
               coalesce(u.pending_out, 0) > 0 AS left_since_fold,
               least(t.oldest_due, u.oldest_due) AS oldest_due,
               mq.histogram_add(t.delivery_latency, u.delivery_latency) AS delivery_latency,
               coalesce(t.delivery_latency_sum, 0) + coalesce(u.delivery_latency_sum, 0)
                   AS delivery_latency_sum,
               mq.histogram_add(t.processing_latency, u.processing_latency) AS processing_latency,
               coalesce(t.processing_latency_sum, 0) + coalesce(u.processing_latency_sum, 0)
                   AS processing_latency_sum
        FROM mq.metric_totals t
        FULL JOIN unfolded u ON u.topic = t.topic AND u.consumer_group = t.consumer_group
    )
    SELECT v.topic, v.consumer_group, v.pending, v.delayed, v.processing, v.consumed, v.failed,
           v.dead_lettered,
           CASE WHEN v.pending > 0 THEN
               greatest(at_time - CASE WHEN v.left_since_fold
                                       THEN mq.oldest_pending_due(v.topic, v.consumer_group)
                                       ELSE v.oldest_due END,
                        interval '0')
           END,
           v.expired, v.dead_letters, v.delivered, v.last_delivery_at, v.deduplicated,
           v.delivery_latency, v.delivery_latency_sum, v.processing_latency,
           v.processing_latency_sum
    FROM now_values v
$$;

COMMENT ON FUNCTION mq.current_metrics(timestamptz) IS 'pg_mq: gauges and counters per topic and consumer group at a moment (used by mq_metrics and the samples)';

-- Queue depth per topic (and consumer group: NULL for point-to-point messages), now.
CREATE VIEW mq.queue_depth AS
    SELECT topic, NULLIF(consumer_group, '') AS consumer_group, pending, delayed, processing,
           oldest_pending_age
    FROM mq.current_metrics(clock_timestamp())
    WHERE pending + delayed + processing > 0;

COMMENT ON VIEW mq.queue_depth IS 'pg_mq: messages waiting (pending: due; delayed: not yet due) and in flight, per topic and consumer group';

-- Queue depth of one topic, or of every topic with messages waiting or in flight.
CREATE FUNCTION mq_depth(topic text DEFAULT NULL)
RETURNS SETOF mq.queue_depth
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT d.* FROM mq.queue_depth d WHERE $1 IS NULL OR d.topic = $1
    ORDER BY d.topic, d.consumer_group NULLS FIRST
$$;

-- ---------------------------------------------------------------------------------------------
-- Topics as managed queues: a catalog with per-topic settings, pause, expiry, capacity.

ALTER TABLE mq.messages ADD COLUMN expires_at timestamptz;
COMMENT ON COLUMN mq.messages.expires_at IS 'when it expires unless completed (mq_publish expires_at, or the topic''s message_ttl)';
DROP INDEX mq.messages_finished_idx;
CREATE INDEX messages_finished_idx
    ON mq.messages (topic, status, updated_at)
    WHERE status IN ('COMPLETED', 'FAILED', 'EXPIRED');
CREATE INDEX messages_expiry_idx
    ON mq.messages (expires_at)
    WHERE expires_at IS NOT NULL AND status IN ('WAITING', 'SCHEDULED', 'PENDING');
ALTER TABLE mq.traces DROP CONSTRAINT traces_event_check;
ALTER TABLE mq.traces ADD CONSTRAINT traces_event_check CHECK (event IN (
    'PUBLISHED', 'PROCESSING', 'COMPLETED', 'FAILED', 'DEAD_LETTERED', 'REPLAYED', 'RECOVERED',
    'PURGED', 'EXPIRED'));
ALTER TABLE mq.metric_samples ADD COLUMN expired_total bigint NOT NULL DEFAULT 0;

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

-- Every topic in use is registered, with the server's settings (as a fresh install registers
-- topics when they are first used).
INSERT INTO mq.topics (topic, created_at, updated_at)
SELECT u.topic, min(u.since), pg_catalog.now()
FROM (SELECT topic, min(created_at) AS since FROM mq.messages GROUP BY topic
      UNION ALL
      SELECT topic, min(created_at) FROM mq.dead_letters GROUP BY topic
      UNION ALL
      SELECT topic, min(granted_at) FROM mq.grants WHERE topic IS NOT NULL GROUP BY topic
      UNION ALL
      SELECT topic, min(updated_at) FROM mq.metric_totals GROUP BY topic) u
GROUP BY u.topic
ON CONFLICT (topic) DO NOTHING;

DROP FUNCTION mq_publish(text, jsonb, integer, timestamptz, integer, uuid, jsonb, interval);
CREATE FUNCTION "mq_publish"(
	"topic" TEXT,
	"payload" jsonb,
	"priority" INT DEFAULT 0,
	"execute_at" timestamp with time zone DEFAULT NULL,
	"max_retries" INT DEFAULT NULL,
	"trace_id" uuid DEFAULT NULL,
	"headers" jsonb DEFAULT NULL,
	"delay" interval DEFAULT NULL,
	"expires_at" timestamp with time zone DEFAULT NULL,
	"ordering_key" TEXT DEFAULT NULL,
	"dedup_key" TEXT DEFAULT NULL
) RETURNS bigint
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'mq_publish_wrapper';

DROP FUNCTION mq_metrics(interval);
CREATE FUNCTION "mq_metrics"(
	"window" interval DEFAULT '5 minutes'
) RETURNS TABLE (
	"topic" TEXT,
	"consumer_group" TEXT,
	"pending" bigint,
	"delayed" bigint,
	"processing" bigint,
	"consumed_total" bigint,
	"failed_total" bigint,
	"dead_letter_total" bigint,
	"consume_rate" double precision,
	"failure_rate" double precision,
	"dlq_rate" double precision,
	"success_ratio" double precision,
	"oldest_pending_age" interval,
	"expired_total" bigint,
	"dead_letters" bigint,
	"paused" bool,
	"deduplicated_total" bigint,
	"delivery_latency_p50" double precision,
	"delivery_latency_p95" double precision,
	"delivery_latency_p99" double precision,
	"processing_latency_p50" double precision,
	"processing_latency_p95" double precision,
	"processing_latency_p99" double precision
)
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'mq_metrics_wrapper';

CREATE FUNCTION "mq_create_topic"(
	"topic" TEXT,
	"max_retries" INT DEFAULT NULL,
	"retry_base_delay" interval DEFAULT NULL,
	"retry_max_delay" interval DEFAULT NULL,
	"lock_timeout" interval DEFAULT NULL,
	"message_ttl" interval DEFAULT NULL,
	"max_depth" bigint DEFAULT NULL,
	"retention" interval DEFAULT NULL,
	"description" TEXT DEFAULT NULL,
	"dedup_window" interval DEFAULT NULL,
	"ordering_dead_letter" TEXT DEFAULT NULL
) RETURNS bool
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'mq_create_topic_wrapper';

CREATE FUNCTION "mq_alter_topic"(
	"topic" TEXT,
	"max_retries" INT DEFAULT NULL,
	"retry_base_delay" interval DEFAULT NULL,
	"retry_max_delay" interval DEFAULT NULL,
	"lock_timeout" interval DEFAULT NULL,
	"message_ttl" interval DEFAULT NULL,
	"max_depth" bigint DEFAULT NULL,
	"retention" interval DEFAULT NULL,
	"description" TEXT DEFAULT NULL,
	"dedup_window" interval DEFAULT NULL,
	"ordering_dead_letter" TEXT DEFAULT NULL,
	"reset" TEXT[] DEFAULT NULL
) RETURNS jsonb
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'mq_alter_topic_wrapper';

CREATE FUNCTION "mq_drop_topic"(
	"topic" TEXT,
	"force" bool DEFAULT false
) RETURNS bigint
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'mq_drop_topic_wrapper';

CREATE FUNCTION "mq_pause"(
	"topic" TEXT,
	"consumer_group" TEXT DEFAULT NULL
) RETURNS bool
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'mq_pause_wrapper';

CREATE FUNCTION "mq_resume"(
	"topic" TEXT,
	"consumer_group" TEXT DEFAULT NULL
) RETURNS bool
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'mq_resume_wrapper';

CREATE FUNCTION "mq_topics"() RETURNS TABLE (
	"topic" TEXT,
	"paused" bool,
	"config" jsonb,
	"description" TEXT,
	"created_at" timestamp with time zone,
	"pending" bigint,
	"delayed" bigint,
	"processing" bigint,
	"dead_letters" bigint
)
STRICT SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'mq_topics_wrapper';

CREATE FUNCTION "mq_topic_config"(
	"topic" TEXT,
	"max_retries" INT DEFAULT NULL,
	"lock_timeout" interval DEFAULT NULL
) RETURNS TABLE (
	"setting" TEXT,
	"value" TEXT,
	"source" TEXT
)
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'mq_topic_config_wrapper';

-- ---------------------------------------------------------------------------------------------
-- Publish–subscribe: consumer groups, each with a delivery of its own of every message of the
-- topics it subscribes to; the payload stored once.

ALTER TABLE mq.messages ALTER COLUMN payload DROP NOT NULL;
ALTER TABLE mq.messages ADD COLUMN consumer_group text;
ALTER TABLE mq.messages ADD COLUMN payload_id bigint;
ALTER TABLE mq.messages ADD CONSTRAINT messages_payload_check
    CHECK (payload IS NOT NULL OR payload_id IS NOT NULL);
COMMENT ON COLUMN mq.messages.consumer_group IS 'the consumer group this delivery is for; NULL: a point-to-point message';
COMMENT ON COLUMN mq.messages.payload_id IS 'the mq.payloads row holding payload and headers (deliveries to groups); NULL: in this row';
DROP INDEX mq.messages_deliverable_idx;
CREATE INDEX messages_deliverable_idx
    ON mq.messages (topic, priority DESC, (coalesce(next_retry_at, execute_at)), id)
    WHERE status = 'PENDING' AND consumer_group IS NULL;
CREATE INDEX messages_group_deliverable_idx
    ON mq.messages (consumer_group, topic, priority DESC, (coalesce(next_retry_at, execute_at)), id)
    WHERE status = 'PENDING' AND consumer_group IS NOT NULL;
CREATE INDEX messages_payload_idx ON mq.messages (payload_id) WHERE payload_id IS NOT NULL;

ALTER TABLE mq.dead_letters ADD COLUMN consumer_group text;
COMMENT ON COLUMN mq.dead_letters.consumer_group IS 'the consumer group whose delivery this was (NULL: point-to-point); a replay goes to it only';

CREATE TABLE mq.payloads (
    id         bigint      PRIMARY KEY,
    topic      text        NOT NULL,
    payload    jsonb       NOT NULL,
    headers    jsonb,
    created_at timestamptz NOT NULL
);

COMMENT ON TABLE mq.payloads IS 'pg_mq payloads of messages delivered to consumer groups, stored once per message';

SELECT pg_catalog.pg_extension_config_dump('mq.payloads', '');

ALTER TABLE mq.metric_samples ADD COLUMN consumer_group text NOT NULL DEFAULT '';
ALTER TABLE mq.metric_samples DROP CONSTRAINT metric_samples_pkey;
ALTER TABLE mq.metric_samples ADD PRIMARY KEY (sampled_at, topic, consumer_group);
ALTER TABLE mq.metric_samples
    ADD COLUMN delivery_latency bigint[], ADD COLUMN delivery_latency_sum double precision,
    ADD COLUMN processing_latency bigint[], ADD COLUMN processing_latency_sum double precision;

-- Publish–subscribe: each consumer group subscribes to topic patterns ('orders.*',
-- 'audit.#'); a message published to a topic goes to every group with a matching pattern, as
-- a delivery of its own (see mq.messages). Publishers hold this table in ROW EXCLUSIVE mode
-- until they commit, and mq_subscribe takes it in SHARE mode: so a subscription sees every
-- message committed after it, and a publisher routes by the subscriptions committed before.
CREATE TABLE mq.subscriptions (
    id             bigint      GENERATED BY DEFAULT AS IDENTITY (SEQUENCE NAME mq.subscriptions_id_seq) PRIMARY KEY,
    consumer_group text        NOT NULL,
    topic_pattern  text        NOT NULL,
    start_at       timestamptz,
    created_at     timestamptz NOT NULL,
    CONSTRAINT subscriptions_group_pattern_key UNIQUE (consumer_group, topic_pattern)
);

COMMENT ON TABLE mq.subscriptions IS 'pg_mq subscriptions of consumer groups to topic patterns; write through mq_subscribe / mq_unsubscribe';
COMMENT ON COLUMN mq.subscriptions.start_at IS 'messages published since then that were still held at subscription time were delivered to the group too';

CREATE TRIGGER subscriptions_changed
    AFTER INSERT OR UPDATE OR DELETE ON mq.subscriptions
    FOR EACH ROW EXECUTE FUNCTION mq.catalog_changed();

CREATE TRIGGER subscriptions_truncated
    AFTER TRUNCATE ON mq.subscriptions
    FOR EACH STATEMENT EXECUTE FUNCTION mq.catalog_changed();

-- Consumer groups paused by mq_pause(topic, consumer_group): for one topic, or for every
-- topic of the group (topic '').
CREATE TABLE mq.group_pauses (
    consumer_group text        NOT NULL,
    topic          text        NOT NULL DEFAULT '',
    paused_at      timestamptz NOT NULL,
    PRIMARY KEY (consumer_group, topic)
);

COMMENT ON TABLE mq.group_pauses IS 'pg_mq consumer groups paused for a topic, or for all their topics (topic '''')';

CREATE TRIGGER group_pauses_changed
    AFTER INSERT OR UPDATE OR DELETE ON mq.group_pauses
    FOR EACH ROW EXECUTE FUNCTION mq.catalog_changed();

CREATE TRIGGER group_pauses_truncated
    AFTER TRUNCATE ON mq.group_pauses
    FOR EACH STATEMENT EXECUTE FUNCTION mq.catalog_changed();

SELECT pg_catalog.pg_extension_config_dump('mq.subscriptions', '');
SELECT pg_catalog.pg_extension_config_dump('mq.subscriptions_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('mq.group_pauses', '');

DROP FUNCTION mq_poll(text, integer, interval, text, interval);
CREATE FUNCTION "mq_poll"(
	"topic" TEXT,
	"batch_size" INT DEFAULT 10,
	"lock_timeout" interval DEFAULT NULL,
	"consumer_id" TEXT DEFAULT NULL,
	"wait" interval DEFAULT '0',
	"consumer_group" TEXT DEFAULT NULL
) RETURNS TABLE (
	"id" bigint,
	"topic" TEXT,
	"payload" jsonb,
	"headers" jsonb,
	"priority" INT,
	"retry_count" INT,
	"max_retries" INT,
	"trace_id" uuid,
	"published_at" timestamp with time zone,
	"lease" uuid,
	"consumer_group" TEXT,
	"ordering_key" TEXT
)
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'mq_poll_wrapper';

CREATE FUNCTION "mq_subscribe"(
	"consumer_group" TEXT,
	"topic_pattern" TEXT,
	"start_at" timestamp with time zone DEFAULT NULL
) RETURNS bigint
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'mq_subscribe_wrapper';

CREATE FUNCTION "mq_unsubscribe"(
	"consumer_group" TEXT,
	"topic_pattern" TEXT DEFAULT NULL
) RETURNS bigint
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'mq_unsubscribe_wrapper';

CREATE FUNCTION "mq_subscriptions"(
	"consumer_group" TEXT DEFAULT NULL
) RETURNS TABLE (
	"consumer_group" TEXT,
	"topic_pattern" TEXT,
	"subscription_id" bigint,
	"created_at" timestamp with time zone,
	"paused" bool,
	"pending" bigint,
	"delayed" bigint,
	"processing" bigint,
	"dead_letters" bigint,
	"oldest_pending_age" interval,
	"last_poll_at" timestamp with time zone
)
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'mq_subscriptions_wrapper';

-- ---------------------------------------------------------------------------------------------
-- Ordered delivery by key and deduplication by key.

ALTER TABLE mq.messages ADD COLUMN ordering_key text;
ALTER TABLE mq.messages ADD COLUMN ordering_seq bigint;
COMMENT ON COLUMN mq.messages.ordering_key IS 'messages of one key (in a topic, per consumer group) are delivered one at a time, in commit order';
COMMENT ON COLUMN mq.messages.ordering_seq IS 'the place of the message among those of its ordering key: the order their publishers committed in';
CREATE INDEX messages_waiting_idx
    ON mq.messages (topic, (coalesce(consumer_group, '')), ordering_key, ordering_seq)
    WHERE status = 'WAITING';
ALTER TABLE mq.dead_letters ADD COLUMN ordering_key text;
ALTER TABLE mq.dead_letters ADD COLUMN ordering_seq bigint;

-- Ordering keys: one row per key with messages not finished (per topic and consumer group, ''
-- for point-to-point). A publisher of a key updates its row — and so holds it until it
-- commits: publishers of one key take turns, and next_seq numbers their messages in the
-- order they commit. Only the key's head (its earliest unfinished message) is deliverable;
-- the others are WAITING. When the head is done, the next one is made deliverable; when it is
-- dead-lettered or expires, the topic's ordering_dead_letter says whether the next one
-- proceeds (skip) or the key waits for a replay of the dead letter (block).
CREATE TABLE mq.ordering_keys (
    topic              text        NOT NULL,
    consumer_group     text        NOT NULL DEFAULT '',
    ordering_key       text        NOT NULL,
    next_seq           bigint      NOT NULL DEFAULT 0,
    live               bigint      NOT NULL DEFAULT 0,
    blocked_message_id bigint,
    blocked_reason     text,
    blocked_since      timestamptz,
    updated_at         timestamptz NOT NULL,
    PRIMARY KEY (topic, consumer_group, ordering_key),
    CONSTRAINT ordering_keys_blocked_check
        CHECK ((blocked_message_id IS NULL) = (blocked_since IS NULL))
);

COMMENT ON TABLE mq.ordering_keys IS 'pg_mq ordering keys with unfinished messages: their order counter, how many are not finished, and whether the key is blocked by a dead letter';
COMMENT ON COLUMN mq.ordering_keys.live IS 'messages of the key not finished (the head and those WAITING behind it)';

CREATE INDEX ordering_keys_blocked_idx ON mq.ordering_keys (topic, consumer_group)
    WHERE blocked_message_id IS NOT NULL;

-- Deduplication keys: a publish with a dedup_key that a message of the topic took less than
-- the topic's dedup_window ago returns that message's id and writes nothing. A second
-- publisher of a key waits for the first (the primary key); after a rollback the key is free.
CREATE TABLE mq.dedup_keys (
    topic      text        NOT NULL,
    dedup_key  text        NOT NULL,
    message_id bigint      NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (topic, dedup_key)
);

COMMENT ON TABLE mq.dedup_keys IS 'pg_mq dedup keys remembered for their topic''s dedup_window; retention forgets them';

CREATE INDEX dedup_keys_expires_at_idx ON mq.dedup_keys (expires_at);

SELECT pg_catalog.pg_extension_config_dump('mq.ordering_keys', '');
SELECT pg_catalog.pg_extension_config_dump('mq.dedup_keys', '');

CREATE FUNCTION "mq_blocked_keys"(
	"topic" TEXT,
	"consumer_group" TEXT DEFAULT NULL
) RETURNS TABLE (
	"ordering_key" TEXT,
	"head_message_id" bigint,
	"reason" TEXT,
	"since" timestamp with time zone
)
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'mq_blocked_keys_wrapper';

-- ---------------------------------------------------------------------------------------------
-- Health checks.

CREATE FUNCTION "mq_health"() RETURNS TABLE (
	"check" TEXT,
	"status" TEXT,
	"detail" jsonb
)
STRICT SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'mq_health_wrapper';

CREATE FUNCTION "mq_consumers"(
	"topic" TEXT DEFAULT NULL
) RETURNS TABLE (
	"consumer_id" TEXT,
	"topic" TEXT,
	"consumer_group" TEXT,
	"first_seen" timestamp with time zone,
	"last_poll" timestamp with time zone,
	"last_ack" timestamp with time zone,
	"in_flight" bigint,
	"claimed" bigint,
	"completed" bigint,
	"failed" bigint,
	"lease_expired" bigint,
	"last_error" TEXT,
	"last_error_at" timestamp with time zone,
	"status" TEXT
)
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'mq_consumers_wrapper';

-- ---------------------------------------------------------------------------------------------
-- The trace keeps one row per delivery attempt: the claim draws its PROCESSING event's id
-- (messages.processing_id) and the row that ends the attempt carries its start (started_id,
-- started_at, locked_until);
-- mq_trace and mq_traces (re-created above) show them as before. Rows written by 0.2.0 stay
-- as they are: a message in flight now was claimed with a PROCESSING row of its own, and its
-- processing_id stays NULL, so that its end does not record that start a second time.
ALTER TABLE mq.messages ADD COLUMN processing_id bigint;
ALTER TABLE mq.traces ADD COLUMN started_id bigint, ADD COLUMN started_at timestamptz,
    ADD COLUMN locked_until timestamptz;
COMMENT ON COLUMN mq.messages.processing_id IS 'while PROCESSING (claimed with pg_mq.trace on): the trace event id of this attempt''s PROCESSING, drawn at the claim and written with the trace row that ends the attempt';
COMMENT ON TABLE mq.traces IS 'pg_mq trace: one row per state change, the start of an attempt kept in the row that ends it; read with mq_trace(trace_id)';
COMMENT ON COLUMN mq.traces.started_id IS 'a row that ends an attempt (COMPLETED, FAILED, RECOVERED, PURGED): the event id of the attempt''s PROCESSING';
COMMENT ON COLUMN mq.traces.started_at IS 'when the attempt this row ends began (its PROCESSING event''s time)';
COMMENT ON COLUMN mq.traces.locked_until IS 'the lock expiry of the attempt this row ends (its PROCESSING event''s locked_until; consumer_id, attempt and consumer_group are this row''s)';

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
