-- Locks in-flight messages of a topic (NULL: every topic) whose lock has expired, skipping
-- any a consumer is settling right now.
SELECT id, topic, retry_count, max_retries, expires_at
FROM mq.messages
WHERE locked_until < $2 AND status = 'PROCESSING' AND ($1::text IS NULL OR topic = $1)
ORDER BY locked_until
LIMIT $3
FOR UPDATE SKIP LOCKED
