-- Registers a topic with the server's settings if it is not in the catalog yet, without ever
-- waiting: a session registering or creating the same topic right now holds the topic's
-- registration lock (until its transaction ends), and then this one leaves it to that one.
INSERT INTO mq.topics (topic, created_at, updated_at)
SELECT $1, $2, $2
WHERE pg_catalog.pg_try_advisory_xact_lock(1836152, pg_catalog.hashtext($1))
ON CONFLICT (topic) DO NOTHING
