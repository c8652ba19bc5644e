-- The messages that hold the given dedup keys of a topic.
SELECT dedup_key, message_id FROM mq.dedup_keys WHERE topic = $1 AND dedup_key = ANY ($2)
