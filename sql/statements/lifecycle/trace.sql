-- A trace's chain in the order it happened (trace ids are drawn in causal order).
SELECT event, message_id, topic, detail, created_at
FROM mq.traces
WHERE trace_id = $1
ORDER BY id
