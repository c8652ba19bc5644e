-- Creates a topic with the given settings (NULL: the server's applies), unless it exists;
-- returns a row when it was created. Takes the topic's registration lock first (see
-- register_topic.sql), so sessions registering it meanwhile leave it to this one instead of
-- waiting for this transaction.
WITH registering AS MATERIALIZED (
    SELECT pg_catalog.pg_advisory_xact_lock(1836152, pg_catalog.hashtext($1))
)
INSERT INTO mq.topics
    (topic, max_retries, retry_base_delay, retry_max_delay, lock_timeout, message_ttl,
     max_depth, retention, dedup_window, ordering_dead_letter, description, created_at,
     updated_at)
SELECT $1, $2, $3 * interval '1 microsecond', $4 * interval '1 microsecond',
       $5 * interval '1 microsecond', $6 * interval '1 microsecond', $7,
       $8 * interval '1 microsecond', $9 * interval '1 microsecond', $10, $11, $12, $12
FROM registering
ON CONFLICT (topic) DO NOTHING
RETURNING topic
