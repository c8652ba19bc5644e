-- The topics a consumer group has deliveries waiting in (from the counters).
SELECT topic FROM mq.current_metrics($2)
WHERE consumer_group = $1 AND pending + delayed > 0
ORDER BY topic
