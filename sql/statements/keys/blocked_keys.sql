-- The blocked ordering keys of a topic and consumer group ('' for point-to-point).
SELECT ordering_key, blocked_message_id, blocked_reason, blocked_since
FROM mq.ordering_keys
WHERE topic = $1 AND consumer_group = $2 AND blocked_message_id IS NOT NULL
ORDER BY blocked_since, ordering_key
