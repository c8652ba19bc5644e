-- Pauses or resumes a topic; returns a row when this changed it.
UPDATE mq.topics
SET paused = $2, updated_at = $3
WHERE topic = $1 AND paused <> $2
RETURNING topic
