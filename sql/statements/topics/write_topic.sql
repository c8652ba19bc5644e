-- Replaces every setting of an existing topic (the caller merged the changes into what it
-- read under lock_topic_row.sql); returns a row when the topic exists.
UPDATE mq.topics
SET max_retries = $2, retry_base_delay = $3 * interval '1 microsecond',
    retry_max_delay = $4 * interval '1 microsecond', lock_timeout = $5 * interval '1 microsecond',
    message_ttl = $6 * interval '1 microsecond', max_depth = $7,
    retention = $8 * interval '1 microsecond', dedup_window = $9 * interval '1 microsecond',
    ordering_dead_letter = $10, description = $11, updated_at = $12
WHERE topic = $1
RETURNING topic
