-- Resumes a consumer group for a topic (or all its topics: topic ''); returns a row when this
-- resumed it.
DELETE FROM mq.group_pauses WHERE consumer_group = $1 AND topic = $2
RETURNING consumer_group
