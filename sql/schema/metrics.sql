-- pg_mq metrics: the queue's gauges and counters, kept as messages move, and samples for
-- rates and dashboards.
--
-- Every statement that changes messages appends one row per topic (and consumer group: ''
-- for point-to-point messages) to mq.metric_counts with
-- what it changed: messages that became or stopped being PENDING, SCHEDULED, in flight or
-- dead-lettered, completions and failures. An insert never waits for another session, so
-- counting serializes nobody, and it commits or rolls back with the change it counts. The
-- background worker folds those rows into mq.metric_totals, one row per topic and group, every
-- pg_mq.fold_interval. A value is its total plus the rows not folded yet: reading the metrics
-- costs one row per topic (plus the unfolded rows), however many messages wait. Retention and
-- mq_cleanup never touch these tables, so deleting finished messages does not lower a counter.
-- A change a row does not count is NULL there, not 0: a NULL column takes no space, and a
-- completion's row, say, sets five columns of twenty (every reader counts NULL as 0).

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

-- The earliest due time of a topic's (or a group's deliveries of a topic) PENDING messages,
-- exactly: one look into the claim index per priority they have (the index orders by
-- priority first).
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

-- Metrics samples, written by the background worker every pg_mq.metrics_sample_interval (or by
-- mq_metrics_sample()). A snapshot is one moment; it has a row in mq.metric_samples for every
-- topic that had messages or counts then. A topic without a row in a snapshot had nothing:
-- its gauges and counters were zero.
CREATE TABLE mq.metric_snapshots (
    sampled_at timestamptz PRIMARY KEY
);

COMMENT ON TABLE mq.metric_snapshots IS 'pg_mq: the moments metrics samples were taken';

CREATE TABLE mq.metric_samples (
    topic              text        NOT NULL,
    sampled_at         timestamptz NOT NULL REFERENCES mq.metric_snapshots ON DELETE CASCADE,
    pending            bigint      NOT NULL,
    delayed            bigint      NOT NULL,
    processing         bigint      NOT NULL,
    consumed_total     bigint      NOT NULL,
    failed_total       bigint      NOT NULL,
    dead_letter_total  bigint      NOT NULL,
    oldest_pending_age interval,
    expired_total      bigint      NOT NULL DEFAULT 0,
    consumer_group     text        NOT NULL DEFAULT '',
    delivery_latency       bigint[],
    delivery_latency_sum   double precision,
    processing_latency     bigint[],
    processing_latency_sum double precision,
    PRIMARY KEY (sampled_at, topic, consumer_group)
);

COMMENT ON TABLE mq.metric_samples IS 'pg_mq metrics per topic per snapshot: the source of rates and of mq_dashboard time series';

-- Each topic's (and group's) gauges and counters at a moment: its totals plus the changes
-- not folded yet. The oldest pending message is the one the totals remember, or an earlier
-- one that became PENDING since; only a topic whose PENDING messages were claimed or removed
-- since the last fold is looked up in the claim index. consumer_group is '' for
-- point-to-point messages.
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

-- Counters and samples survive pg_dump / pg_restore with the queue (see sql/schema.sql).
SELECT pg_catalog.pg_extension_config_dump('mq.metric_counts', '');
SELECT pg_catalog.pg_extension_config_dump('mq.metric_totals', '');
SELECT pg_catalog.pg_extension_config_dump('mq.consumer_totals', '');
SELECT pg_catalog.pg_extension_config_dump('mq.metric_snapshots', '');
SELECT pg_catalog.pg_extension_config_dump('mq.metric_samples', '');
