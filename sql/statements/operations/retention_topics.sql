-- Every topic that may hold finished messages (registered, or counted, folded or not), with
-- the cutoff of its retention of completed messages: its own retention, else the server's
-- cutoff (NULL: keep).
SELECT k.topic, coalesce($2 - t.retention, $1) AS cutoff
FROM (SELECT topic FROM mq.topics UNION SELECT topic FROM mq.metric_totals
      UNION SELECT topic FROM mq.metric_counts) k
LEFT JOIN mq.topics t ON t.topic = k.topic
ORDER BY k.topic
