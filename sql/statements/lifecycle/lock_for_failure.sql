-- Locks the in-flight messages a failure report is about (with the lease of the current
-- delivery, or any when NULL), in id order, and returns what the retry decision needs.
SELECT id, retry_count, max_retries
FROM mq.messages
WHERE id = ANY($1) AND status = 'PROCESSING' AND ($2::uuid IS NULL OR lease = $2)
ORDER BY id
FOR UPDATE
