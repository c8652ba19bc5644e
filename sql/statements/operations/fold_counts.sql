-- Folds the changes appended to mq.metric_counts into the totals per topic and consumer group
-- (rows appended while this runs are left for the next fold; a NULL change counts as 0). A topic and group whose PENDING
-- messages were claimed or removed has its oldest pending message looked up again; for the
-- others the earliest of what the totals remember and what became PENDING since is still
-- right. A topic that received messages and is not in the catalog yet is registered with the
-- server's settings, unless a session is registering it right now (see
-- topics/register_topic.sql: the fold never waits). The caller holds the lock that serializes
-- folds.
WITH moved AS (
    DELETE FROM mq.metric_counts
    RETURNING topic, consumer_group, coalesce(pending_in, 0) AS pending_in,
              coalesce(pending_out, 0) AS pending_out, coalesce(delayed, 0) AS delayed,
              coalesce(processing, 0) AS processing, coalesce(dead_letters, 0) AS dead_letters,
              coalesce(consumed, 0) AS consumed, coalesce(failed, 0) AS failed,
              coalesce(dead_lettered, 0) AS dead_lettered, coalesce(expired, 0) AS expired,
              coalesce(delivered, 0) AS delivered, coalesce(deduplicated, 0) AS deduplicated,
              oldest_due, counted_at, consumer_id, coalesce(lease_expired, 0) AS lease_expired,
              last_error, delivery_latency, coalesce(delivery_latency_sum, 0) AS delivery_latency_sum,
              processing_latency,
              coalesce(processing_latency_sum, 0) AS processing_latency_sum
), consumers AS (
    -- What each consumer's claims, completions and failures were (rows with a consumer_id).
    INSERT INTO mq.consumer_totals AS t
        (consumer_id, topic, consumer_group, first_seen, last_claim_at, last_ack_at, last_seen,
         claimed, completed, failed, lease_expired, last_lease_expired_at, last_error,
         last_error_at)
    SELECT consumer_id, topic, consumer_group, min(counted_at),
           max(counted_at) FILTER (WHERE delivered > 0),
           max(counted_at) FILTER (WHERE consumed > 0 OR failed > lease_expired),
           max(counted_at), sum(delivered), sum(consumed), sum(failed - lease_expired),
           sum(lease_expired), max(counted_at) FILTER (WHERE lease_expired > 0),
           (pg_catalog.array_agg(last_error ORDER BY counted_at DESC)
                FILTER (WHERE last_error IS NOT NULL))[1],
           max(counted_at) FILTER (WHERE last_error IS NOT NULL)
    FROM moved
    WHERE consumer_id IS NOT NULL
    GROUP BY consumer_id, topic, consumer_group
    ON CONFLICT (consumer_id, topic, consumer_group) DO UPDATE
    SET last_claim_at = greatest(t.last_claim_at, excluded.last_claim_at),
        last_ack_at = greatest(t.last_ack_at, excluded.last_ack_at),
        last_seen = greatest(t.last_seen, excluded.last_seen),
        claimed = t.claimed + excluded.claimed,
        completed = t.completed + excluded.completed,
        failed = t.failed + excluded.failed,
        lease_expired = t.lease_expired + excluded.lease_expired,
        last_lease_expired_at = greatest(t.last_lease_expired_at, excluded.last_lease_expired_at),
        last_error = coalesce(excluded.last_error, t.last_error),
        last_error_at = greatest(t.last_error_at, excluded.last_error_at)
), sums AS (
    SELECT topic, consumer_group,
           sum(pending_in - pending_out) AS pending, sum(pending_out) AS pending_out,
           sum(delayed) AS delayed, sum(processing) AS processing,
           sum(dead_letters) AS dead_letters, sum(consumed) AS consumed, sum(failed) AS failed,
           sum(dead_lettered) AS dead_lettered, sum(expired) AS expired,
           sum(delivered) AS delivered, sum(deduplicated) AS deduplicated,
           max(counted_at) FILTER (WHERE delivered > 0) AS last_delivery_at,
           min(oldest_due) AS oldest_due,
           bool_or(pending_in > 0 OR delayed > 0) AS received,
           mq.histogram_sum(delivery_latency) AS delivery_latency,
           sum(delivery_latency_sum) AS delivery_latency_sum,
           mq.histogram_sum(processing_latency) AS processing_latency,
           sum(processing_latency_sum) AS processing_latency_sum
    FROM moved
    GROUP BY topic, consumer_group
), registered AS (
    INSERT INTO mq.topics (topic, created_at, updated_at)
    SELECT DISTINCT topic, $1::timestamptz, $1::timestamptz FROM sums
    WHERE received AND pg_catalog.pg_try_advisory_xact_lock(1836152, pg_catalog.hashtext(topic))
    ON CONFLICT (topic) DO NOTHING
)
INSERT INTO mq.metric_totals AS t
    (topic, consumer_group, pending, delayed, processing, dead_letters, consumed, failed,
     dead_lettered, expired, delivered, deduplicated, last_delivery_at, oldest_due, updated_at,
     delivery_latency, delivery_latency_sum, processing_latency, processing_latency_sum)
SELECT s.topic, s.consumer_group, s.pending, s.delayed, s.processing, s.dead_letters,
       s.consumed, s.failed, s.dead_lettered, s.expired, s.delivered, s.deduplicated,
       s.last_delivery_at,
       CASE WHEN s.pending_out > 0 THEN mq.oldest_pending_due(s.topic, s.consumer_group)
            ELSE least(old.oldest_due, s.oldest_due) END,
       $1, s.delivery_latency, s.delivery_latency_sum, s.processing_latency,
       s.processing_latency_sum
FROM sums s
LEFT JOIN mq.metric_totals old ON old.topic = s.topic AND old.consumer_group = s.consumer_group
ON CONFLICT (topic, consumer_group) DO UPDATE
SET pending = t.pending + excluded.pending,
    delayed = t.delayed + excluded.delayed,
    processing = t.processing + excluded.processing,
    dead_letters = t.dead_letters + excluded.dead_letters,
    consumed = t.consumed + excluded.consumed,
    failed = t.failed + excluded.failed,
    dead_lettered = t.dead_lettered + excluded.dead_lettered,
    expired = t.expired + excluded.expired,
    delivered = t.delivered + excluded.delivered,
    deduplicated = t.deduplicated + excluded.deduplicated,
    last_delivery_at = greatest(t.last_delivery_at, excluded.last_delivery_at),
    oldest_due = CASE WHEN t.pending + excluded.pending > 0 THEN excluded.oldest_due END,
    updated_at = excluded.updated_at,
    delivery_latency = mq.histogram_add(t.delivery_latency, excluded.delivery_latency),
    delivery_latency_sum = t.delivery_latency_sum + excluded.delivery_latency_sum,
    processing_latency = mq.histogram_add(t.processing_latency, excluded.processing_latency),
    processing_latency_sum = t.processing_latency_sum + excluded.processing_latency_sum
