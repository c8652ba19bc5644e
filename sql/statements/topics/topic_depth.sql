-- A topic's messages waiting or in flight (PENDING, SCHEDULED and PROCESSING; for a topic
-- with subscribers, its deliveries to every group), as committed: its totals plus its changes
-- not folded yet.
SELECT (coalesce((SELECT sum(t.pending + t.delayed + t.processing)
                  FROM mq.metric_totals t WHERE t.topic = $1), 0)
        + coalesce((SELECT sum(c.pending_in - c.pending_out + c.delayed + c.processing)
                    FROM mq.metric_counts c WHERE c.topic = $1), 0))::bigint AS depth
