-- Takes the given dedup keys of a topic for new messages, each with an id drawn now: a key no
-- message of the topic holds, or whose window has passed. A key another transaction is taking
-- right now is waited for (its commit leaves it taken, its rollback free). Returns the keys
-- taken with their new ids; the others are taken by earlier messages (dedup_existing.sql).
INSERT INTO mq.dedup_keys AS d (topic, dedup_key, message_id, created_at, expires_at)
SELECT $1, k.dedup_key, pg_catalog.nextval('mq.messages_id_seq'::pg_catalog.regclass), $3, $3 + $4
FROM pg_catalog.unnest($2::text[]) AS k(dedup_key)
ORDER BY k.dedup_key
ON CONFLICT (topic, dedup_key) DO UPDATE
SET message_id = excluded.message_id, created_at = excluded.created_at,
    expires_at = excluded.expires_at
WHERE d.expires_at <= excluded.created_at
RETURNING dedup_key, message_id
