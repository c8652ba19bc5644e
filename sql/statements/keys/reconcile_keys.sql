-- After a topic's waiting messages were removed (mq_purge, mq_drop_topic, an unsubscribe; of
-- one consumer group when given, '' for point-to-point): each of its ordering keys keeps as
-- many unfinished messages as it has in flight (read through the lock-expiry index: in-flight
-- rows only), is unblocked, and is forgotten when nothing of it remains.
WITH held AS (
    SELECT topic, coalesce(consumer_group, '') AS consumer_group, ordering_key, count(*) AS n
    FROM mq.messages
    WHERE locked_until IS NOT NULL AND topic = $1 AND ordering_key IS NOT NULL
      AND ($2::text IS NULL OR coalesce(consumer_group, '') = $2)
    GROUP BY 1, 2, 3
), kept AS (
    UPDATE mq.ordering_keys k
    SET live = h.n, blocked_message_id = NULL, blocked_reason = NULL, blocked_since = NULL,
        updated_at = $3
    FROM held h
    WHERE k.topic = h.topic AND k.consumer_group = h.consumer_group
      AND k.ordering_key = h.ordering_key
)
DELETE FROM mq.ordering_keys k
WHERE k.topic = $1 AND ($2::text IS NULL OR k.consumer_group = $2)
  AND NOT EXISTS (SELECT FROM held h
                  WHERE h.consumer_group = k.consumer_group AND h.ordering_key = k.ordering_key)
