-- Removes a consumer group's subscription to a pattern (NULL: all of the group's); returns the
-- patterns removed.
DELETE FROM mq.subscriptions
WHERE consumer_group = $1 AND ($2::text IS NULL OR topic_pattern = $2)
RETURNING topic_pattern
