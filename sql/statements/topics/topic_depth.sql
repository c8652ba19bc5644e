-- A topic's messages waiting or in flight (PENDING, SCHEDULED and PROCESSING; for a topic
-- with subscribers, its deliveries to every group), as committed: its totals plus its changes
-- not folded yet.
SELECT (coalesce((SELECT sum(t.pending + t.delayed + t.processing)
                  FROM mq.metric_totals t WHERE t.topic = $1), 0)
        + coalesce((SELECT sum(coalesce(c.pending_in, 0) - coalesce(c.pending_out, 0)
                               + coalesce(c.delayed, 0) + coalesce(c.processing, 0))
                    FROM mq.metric_counts c WHERE c.topic = $1), 0))::bigint AS depth
