-- Every topic pg_mq knows: registered, or counted (folded or not).
SELECT topic FROM mq.topics
UNION
SELECT topic FROM mq.metric_totals
UNION
SELECT topic FROM mq.metric_counts
ORDER BY 1
