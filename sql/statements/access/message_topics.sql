-- The distinct topics of the given messages (for roles limited to topics).
SELECT DISTINCT m.topic FROM mq.messages m WHERE m.id = ANY ($1)
