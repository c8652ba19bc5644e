-- Every consumer (of one topic, when given) with what it did: the folded totals plus the
-- changes not folded yet, and what it holds now (read through the lock-expiry index: in-flight
-- messages only). consumer_group is '' for point-to-point messages.
WITH unfolded AS (
    SELECT c.consumer_id, c.topic, c.consumer_group, min(c.counted_at) AS first_seen,
           max(c.counted_at) FILTER (WHERE c.delivered > 0) AS last_claim_at,
           max(c.counted_at) FILTER (WHERE c.consumed > 0 OR c.failed > c.lease_expired)
               AS last_ack_at,
           sum(c.delivered)::bigint AS claimed, sum(c.consumed)::bigint AS completed,
           sum(c.failed - c.lease_expired)::bigint AS failed,
           sum(c.lease_expired)::bigint AS lease_expired,
           max(c.counted_at) FILTER (WHERE c.lease_expired > 0) AS last_lease_expired_at,
           (pg_catalog.array_agg(c.last_error ORDER BY c.counted_at DESC)
                FILTER (WHERE c.last_error IS NOT NULL))[1] AS last_error,
           max(c.counted_at) FILTER (WHERE c.last_error IS NOT NULL) AS last_error_at
    FROM (SELECT consumer_id, topic, consumer_group, counted_at, last_error,
                 coalesce(delivered, 0) AS delivered, coalesce(consumed, 0) AS consumed,
                 coalesce(failed, 0) AS failed, coalesce(lease_expired, 0) AS lease_expired
          FROM mq.metric_counts) c
    WHERE c.consumer_id IS NOT NULL AND ($1::text IS NULL OR c.topic = $1)
    GROUP BY c.consumer_id, c.topic, c.consumer_group
), totals AS (
    SELECT * FROM mq.consumer_totals t WHERE $1::text IS NULL OR t.topic = $1
), merged AS (
    SELECT coalesce(t.consumer_id, u.consumer_id) AS consumer_id,
           coalesce(t.topic, u.topic) AS topic,
           coalesce(t.consumer_group, u.consumer_group) AS consumer_group,
           least(t.first_seen, u.first_seen) AS first_seen,
           greatest(t.last_claim_at, u.last_claim_at) AS last_claim_at,
           greatest(t.last_ack_at, u.last_ack_at) AS last_ack_at,
           coalesce(t.claimed, 0) + coalesce(u.claimed, 0) AS claimed,
           coalesce(t.completed, 0) + coalesce(u.completed, 0) AS completed,
           coalesce(t.failed, 0) + coalesce(u.failed, 0) AS failed,
           coalesce(t.lease_expired, 0) + coalesce(u.lease_expired, 0) AS lease_expired,
           greatest(t.last_lease_expired_at, u.last_lease_expired_at) AS last_lease_expired_at,
           coalesce(u.last_error, t.last_error) AS last_error,
           greatest(t.last_error_at, u.last_error_at) AS last_error_at
    FROM totals t
    FULL JOIN unfolded u
      ON u.consumer_id = t.consumer_id AND u.topic = t.topic AND u.consumer_group = t.consumer_group
), flight AS (
    SELECT m.consumer_id, m.topic, coalesce(m.consumer_group, '') AS consumer_group,
           count(*) AS in_flight, count(*) FILTER (WHERE m.locked_until <= $2) AS expired_locks
    FROM mq.messages m
    WHERE m.locked_until IS NOT NULL AND ($1::text IS NULL OR m.topic = $1)
    GROUP BY 1, 2, 3
)
SELECT g.consumer_id, g.topic, g.consumer_group, g.first_seen, g.last_claim_at, g.last_ack_at,
       g.claimed, g.completed, g.failed, g.lease_expired, g.last_lease_expired_at, g.last_error,
       g.last_error_at, coalesce(f.in_flight, 0) AS in_flight,
       coalesce(f.expired_locks, 0) AS expired_locks
FROM merged g
LEFT JOIN flight f
  ON f.consumer_id = g.consumer_id AND f.topic = g.topic AND f.consumer_group = g.consumer_group
ORDER BY g.topic, g.consumer_group, g.consumer_id
