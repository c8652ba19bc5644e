-- The ordering keys of the given dead letters not replayed yet (for locking before a replay).
SELECT topic, coalesce(consumer_group, '') AS consumer_group, ordering_key
FROM mq.dead_letters
WHERE id = ANY ($1) AND NOT replayed AND ordering_key IS NOT NULL
