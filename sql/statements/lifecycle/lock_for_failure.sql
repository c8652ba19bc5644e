-- Locks the in-flight messages a failure report is about, each with the lease given for it (a
-- NULL lease: whichever delivery is current), and, when a topic is named, in that topic; in
-- id order; returns what the retry decision needs.
SELECT m.id, m.topic, m.retry_count, m.max_retries, m.expires_at
FROM mq.messages m
JOIN ROWS FROM (pg_catalog.unnest($1::bigint[]), pg_catalog.unnest($2::uuid[])) AS b(id, lease)
    ON m.id = b.id
WHERE m.status = 'PROCESSING' AND (b.lease IS NULL OR m.lease = b.lease)
  AND ($3::text IS NULL OR m.topic = $3)
ORDER BY m.id
FOR UPDATE OF m
