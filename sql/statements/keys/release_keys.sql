-- After messages of ordering keys finished (completed, dead-lettered, expired), under the
-- keys' locks (lock_keys.sql, a statement before this one): counts them off their keys,
-- blocks a key whose head was dead-lettered when its topic says so (block_id set), and, when
-- a key's head was among them (heads), makes the key's next WAITING message deliverable
-- (PENDING, or SCHEDULED when due later) unless the key is blocked. A key has one head at a
-- time, so there is no look for another unfinished message of the key (it would have no
-- index to go through). Keys left with nothing are forgotten. Counts the promotions; returns
-- them (topic, consumer_group) for the wake-ups.
WITH released AS (
    SELECT r.topic, r.consumer_group, r.ordering_key, sum(r.finished) AS finished,
           max(r.block_id) AS block_id, max(r.reason) AS reason, bool_or(r.head) AS head
    FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[]),
                    pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::bigint[]),
                    pg_catalog.unnest($5::bigint[]), pg_catalog.unnest($6::text[]),
                    pg_catalog.unnest($8::boolean[]))
         AS r(topic, consumer_group, ordering_key, finished, block_id, reason, head)
    GROUP BY r.topic, r.consumer_group, r.ordering_key
), forgotten AS (
    -- Keys left with nothing (and not blocked now) are forgotten.
    DELETE FROM mq.ordering_keys k
    USING released r
    WHERE k.topic = r.topic AND k.consumer_group = r.consumer_group
      AND k.ordering_key = r.ordering_key
      AND k.live - r.finished <= 0 AND k.blocked_message_id IS NULL AND r.block_id IS NULL
), updated AS (
    UPDATE mq.ordering_keys k
    SET live = greatest(k.live - r.finished, 0),
        blocked_message_id = coalesce(r.block_id, k.blocked_message_id),
        blocked_reason = CASE WHEN r.block_id IS NOT NULL THEN r.reason ELSE k.blocked_reason END,
        blocked_since = CASE WHEN r.block_id IS NOT NULL THEN $7 ELSE k.blocked_since END,
        updated_at = $7
    FROM released r
    WHERE k.topic = r.topic AND k.consumer_group = r.consumer_group
      AND k.ordering_key = r.ordering_key
      AND NOT (k.live - r.finished <= 0 AND k.blocked_message_id IS NULL AND r.block_id IS NULL)
    RETURNING k.topic, k.consumer_group, k.ordering_key, k.live, k.blocked_message_id, r.head
), next AS (
    SELECT (SELECT m.id FROM mq.messages m
            WHERE m.status = 'WAITING' AND m.topic = u.topic
              AND coalesce(m.consumer_group, '') = u.consumer_group
              AND m.ordering_key = u.ordering_key
            ORDER BY m.ordering_seq LIMIT 1) AS id
    FROM updated u
    WHERE u.blocked_message_id IS NULL AND u.live > 0 AND u.head
), promoted AS (
    UPDATE mq.messages m
    SET status = CASE WHEN coalesce(m.next_retry_at, m.execute_at) > $7 THEN 'SCHEDULED'
                      ELSE 'PENDING' END,
        updated_at = $7
    FROM next n
    WHERE m.id = n.id AND m.status = 'WAITING'
    RETURNING m.topic, m.consumer_group, m.status, coalesce(m.next_retry_at, m.execute_at) AS due_at
), counted AS (
    INSERT INTO mq.metric_counts (topic, consumer_group, pending_in, delayed, oldest_due, counted_at)
    SELECT topic, coalesce(consumer_group, ''), count(*) FILTER (WHERE status = 'PENDING'),
           -count(*) FILTER (WHERE status = 'PENDING'),
           min(due_at) FILTER (WHERE status = 'PENDING'), $7
    FROM promoted
    GROUP BY topic, consumer_group
)
SELECT topic, consumer_group FROM promoted
