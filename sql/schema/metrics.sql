-- pg_mq metrics: counters that never go down, and samples for rates and dashboards.
--
-- mq_complete and mq_fail append one row per call to mq.metric_counts (an insert never waits
-- for another session, so counting does not serialize consumers). The background worker folds
-- those rows into mq.metric_totals, one row per topic. A counter's value is its total plus the
-- rows not folded yet. Retention and mq_cleanup never touch these tables, so deleting messages
-- does not lower a counter.

CREATE TABLE mq.metric_counts (
    topic         text        NOT NULL,
    consumed      bigint      NOT NULL DEFAULT 0,
    failed        bigint      NOT NULL DEFAULT 0,
    dead_lettered bigint      NOT NULL DEFAULT 0,
    counted_at    timestamptz NOT NULL
);

COMMENT ON TABLE mq.metric_counts IS 'pg_mq counter increments not yet folded into mq.metric_totals';

CREATE TABLE mq.metric_totals (
    topic         text        PRIMARY KEY,
    consumed      bigint      NOT NULL DEFAULT 0,
    failed        bigint      NOT NULL DEFAULT 0,
    dead_lettered bigint      NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL
);

COMMENT ON TABLE mq.metric_totals IS 'pg_mq counters per topic: completed deliveries, failed deliveries, dead letters';
COMMENT ON COLUMN mq.metric_totals.failed IS 'failed deliveries: mq_fail calls and expired locks';

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
    PRIMARY KEY (sampled_at, topic)
);

COMMENT ON TABLE mq.metric_samples IS 'pg_mq metrics per topic per snapshot: the source of rates and of mq_dashboard time series';

-- Each topic's gauges and counters at a moment: the queue from the live rows (through the
-- partial indexes of PENDING and in-flight rows), the counters from totals plus increments.
CREATE FUNCTION mq.current_metrics(at_time timestamptz)
RETURNS TABLE (
    topic              text,
    pending            bigint,
    delayed            bigint,
    processing         bigint,
    consumed_total     bigint,
    failed_total       bigint,
    dead_letter_total  bigint,
    oldest_pending_age interval
)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH queued AS (
        SELECT m.topic,
               count(*) FILTER (WHERE coalesce(m.next_retry_at, m.execute_at) <= at_time) AS pending,
               count(*) FILTER (WHERE coalesce(m.next_retry_at, m.execute_at) > at_time) AS delayed,
               at_time - min(coalesce(m.next_retry_at, m.execute_at))
                   FILTER (WHERE coalesce(m.next_retry_at, m.execute_at) <= at_time) AS oldest_pending_age
        FROM mq.messages m
        WHERE m.status = 'PENDING'
        GROUP BY m.topic
    ), in_flight AS (
        SELECT m.topic, count(*) AS processing
        FROM mq.messages m
        WHERE m.locked_until IS NOT NULL
        GROUP BY m.topic
    ), counters AS (
        SELECT c.topic,
               sum(c.consumed)::bigint AS consumed,
               sum(c.failed)::bigint AS failed,
               sum(c.dead_lettered)::bigint AS dead_lettered
        FROM (SELECT t.topic, t.consumed, t.failed, t.dead_lettered FROM mq.metric_totals t
              UNION ALL
              SELECT n.topic, n.consumed, n.failed, n.dead_lettered FROM mq.metric_counts n) c
        GROUP BY c.topic
    )
    SELECT topic,
           coalesce(q.pending, 0),
           coalesce(q.delayed, 0),
           coalesce(f.processing, 0),
           coalesce(c.consumed, 0),
           coalesce(c.failed, 0),
           coalesce(c.dead_lettered, 0),
           q.oldest_pending_age
    FROM queued q
    FULL JOIN in_flight f USING (topic)
    FULL JOIN counters c USING (topic)
$$;

COMMENT ON FUNCTION mq.current_metrics(timestamptz) IS 'pg_mq: gauges and counters per topic at a moment (used by mq_metrics and the samples)';

-- Counters and samples survive pg_dump / pg_restore with the queue (see sql/schema.sql).
SELECT pg_catalog.pg_extension_config_dump('mq.metric_counts', '');
SELECT pg_catalog.pg_extension_config_dump('mq.metric_totals', '');
SELECT pg_catalog.pg_extension_config_dump('mq.metric_snapshots', '');
SELECT pg_catalog.pg_extension_config_dump('mq.metric_samples', '');
