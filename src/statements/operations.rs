//! SQL of the operations side: metrics, retention and purge.

/// Moves the counter increments appended by complete and fail into the per-topic totals.
/// Rows appended while this runs are left for the next fold.
pub const FOLD_COUNTS: &str = "
WITH moved AS (
    DELETE FROM mq.metric_counts RETURNING topic, consumed, failed, dead_lettered
)
INSERT INTO mq.metric_totals AS t (topic, consumed, failed, dead_lettered, updated_at)
SELECT topic, sum(consumed), sum(failed), sum(dead_lettered), $1
FROM moved
GROUP BY topic
ON CONFLICT (topic) DO UPDATE
SET consumed = t.consumed + excluded.consumed,
    failed = t.failed + excluded.failed,
    dead_lettered = t.dead_lettered + excluded.dead_lettered,
    updated_at = excluded.updated_at";

/// $1 now, $2 topic (NULL: all). Each topic's gauges and counters now, in the column layout
/// of SAMPLES_BETWEEN.
pub const CURRENT_METRICS: &str = "
SELECT topic, $1 AS sampled_at, pending, delayed, processing, consumed_total, failed_total,
       dead_letter_total, oldest_pending_age
FROM mq.current_metrics($1)
WHERE $2::text IS NULL OR topic = $2
ORDER BY topic";

/// $1 start of the window, $2 now. The snapshot a window's rates are measured from: the last
/// one at or before the start, or else the first one after it.
pub const WINDOW_BASELINE: &str = "
SELECT sampled_at
FROM mq.metric_snapshots
WHERE sampled_at < $2
ORDER BY sampled_at > $1, abs(extract(epoch FROM sampled_at - $1))
LIMIT 1";

/// $1 now. Records a snapshot with one sample per topic.
pub const TAKE_SAMPLE: &str = "
WITH snapshot AS (
    INSERT INTO mq.metric_snapshots (sampled_at) VALUES ($1)
    ON CONFLICT (sampled_at) DO NOTHING
    RETURNING sampled_at
)
INSERT INTO mq.metric_samples
    (topic, sampled_at, pending, delayed, processing, consumed_total, failed_total,
     dead_letter_total, oldest_pending_age)
SELECT m.topic, s.sampled_at, m.pending, m.delayed, m.processing, m.consumed_total,
       m.failed_total, m.dead_letter_total, m.oldest_pending_age
FROM snapshot s CROSS JOIN mq.current_metrics($1) m";

/// $1 snapshots to keep. Deletes older snapshots with their samples.
pub const PRUNE_SAMPLES: &str = "
DELETE FROM mq.metric_snapshots
WHERE sampled_at < (SELECT sampled_at FROM mq.metric_snapshots
                    ORDER BY sampled_at DESC OFFSET $1 - 1 LIMIT 1)";

/// $1 from. The snapshot times since, for the dashboard's time series.
pub const SNAPSHOTS_SINCE: &str = "
SELECT sampled_at FROM mq.metric_snapshots WHERE sampled_at >= $1 ORDER BY sampled_at";

/// $1 from, $2 until (inclusive). The samples taken in between, in the column layout of
/// CURRENT_METRICS.
pub const SAMPLES_BETWEEN: &str = "
SELECT topic, sampled_at, pending, delayed, processing, consumed_total, failed_total,
       dead_letter_total, oldest_pending_age
FROM mq.metric_samples
WHERE sampled_at >= $1 AND sampled_at <= $2
ORDER BY sampled_at, topic";

/// $1 status ('COMPLETED' or 'FAILED'), $2 cutoff, $3 batch size. Deletes up to a batch of
/// messages in that status last changed before the cutoff; returns how many.
pub const CLEANUP_MESSAGES: &str = "
WITH deleted AS (
    DELETE FROM mq.messages
    WHERE id = ANY (ARRAY(
        SELECT id
        FROM mq.messages
        WHERE status IN ('COMPLETED', 'FAILED') AND status = $1 AND updated_at < $2
        ORDER BY updated_at
        LIMIT $3
        FOR UPDATE SKIP LOCKED))
    RETURNING id
)
SELECT count(*) FROM deleted";

/// $1 cutoff, $2 batch size. Deletes up to a batch of dead letters replayed before the cutoff.
pub const CLEANUP_DEAD_LETTERS: &str = "
WITH deleted AS (
    DELETE FROM mq.dead_letters
    WHERE id = ANY (ARRAY(
        SELECT id
        FROM mq.dead_letters
        WHERE replayed AND replayed_at < $1
        ORDER BY replayed_at
        LIMIT $2
        FOR UPDATE SKIP LOCKED))
    RETURNING id
)
SELECT count(*) FROM deleted";

/// $1 cutoff, $2 batch size. Deletes up to a batch of trace rows older than the cutoff,
/// found through the BRIN index on created_at; returns how many.
pub const CLEANUP_TRACES: &str = "
WITH deleted AS (
    DELETE FROM mq.traces
    WHERE ctid = ANY (ARRAY(SELECT ctid FROM mq.traces WHERE created_at < $1 LIMIT $2))
    RETURNING 1
)
SELECT count(*) FROM deleted";

/// $1 topic, $2 now. Deletes the topic's PENDING messages, writing a PURGED trace
/// row for each; returns how many. Rows another session is changing at that moment (a
/// message being failed back to PENDING, say) are skipped, not waited for: purge never waits,
/// so it cannot deadlock with consumers that lock several messages.
pub const PURGE: &str = "
WITH doomed AS (
    SELECT id FROM mq.messages WHERE topic = $1 AND status = 'PENDING'
    FOR UPDATE SKIP LOCKED
), purged AS (
    DELETE FROM mq.messages m USING doomed d WHERE m.id = d.id
    RETURNING m.id, m.topic, m.trace_id, m.retry_count
)
--trace{
, traced AS (
    INSERT INTO mq.traces (trace_id, message_id, topic, event, detail, created_at)
    SELECT trace_id, id, topic, 'PURGED',
           pg_catalog.jsonb_build_object('retry_count', retry_count), $2
    FROM purged
)
--}trace
SELECT count(*) FROM purged";

/// The installed version of the extension in this database: no row when it is not installed.
/// (The background worker asks every tick.)
pub const EXTENSION_VERSION: &str = "
SELECT e.extversion FROM pg_catalog.pg_extension e WHERE e.extname = 'pg_mq'";
