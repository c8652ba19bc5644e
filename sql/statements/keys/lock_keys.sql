-- Locks the rows of the given ordering keys (topic, consumer group, key: matched by position)
-- until the transaction ends, in a fixed order: a key's publishers in flight commit first, and
-- what the next statement reads of the key's messages is what they left.
SELECT k.ordering_key
FROM mq.ordering_keys k
JOIN ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[]),
                pg_catalog.unnest($3::text[])) AS r(topic, consumer_group, ordering_key)
  ON k.topic = r.topic AND k.consumer_group = r.consumer_group AND k.ordering_key = r.ordering_key
ORDER BY k.topic, k.consumer_group, k.ordering_key
FOR UPDATE OF k
