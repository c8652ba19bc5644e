-- The run command's demo: a message's whole life in pg_mq, step by step.
\pset footer off
SET pg_mq.retry_base_delay = 0;   -- retry at once, so the demo need not wait
SELECT mq_metrics_sample() AS topics_sampled \gset
-- (a metrics snapshot before anything happens: the baseline the rates in step 12 start from)

\echo '\n-- 1. publish three messages; the second has a higher priority, the third is delayed'
SELECT mq_publish('orders', '{"order": 1}') AS first,
       mq_publish('orders', '{"order": 2}', priority => 5) AS urgent,
       mq_publish('orders', '{"order": 3}', delay => '1 hour') AS later;

\echo '\n-- 2. poll: the urgent one comes first; the delayed one is not due yet'
SELECT id, payload, priority, retry_count, lease IS NOT NULL AS leased
FROM mq_poll('orders', 10, consumer_id => 'demo-worker');

\echo '\n-- 3. complete both deliveries'
SELECT id, mq_complete(id) AS completed
FROM mq.messages WHERE topic = 'orders' AND status = 'PROCESSING' ORDER BY id;

\echo '\n-- 4. a message that fails: one retry allowed, so two failures dead-letter it'
SELECT mq_publish('payments', '{"charge": 99}', max_retries => 1) AS payment \gset
SELECT id AS delivery_1 FROM mq_poll('payments');
SELECT mq_fail(:payment, 'card declined') AS after_failure_1;
SELECT id AS delivery_2, retry_count FROM mq_poll('payments');
SELECT mq_fail(:payment, 'card declined again') AS after_failure_2;
SELECT id AS dead_letter_id, original_id, error_message, retry_count, replayed
FROM mq.dead_letters WHERE original_id = :payment;

\echo '\n-- 5. replay the dead letter: a new PENDING message with the same trace'
SELECT mq_replay(id) AS replayed_as FROM mq.dead_letters WHERE original_id = :payment \gset
SELECT id, status, retry_count FROM mq.messages WHERE id = :replayed_as;
SELECT id AS delivery_3 FROM mq_poll('payments');
SELECT mq_complete(:replayed_as) AS completed;

\echo '\n-- 6. the whole story of the payment, from its trace'
SELECT event, message_id, detail
FROM mq_trace((SELECT trace_id FROM mq.messages WHERE id = :payment));

\echo '\n-- 7. the tables'
SELECT topic, status, count(*) FROM mq.messages GROUP BY 1, 2 ORDER BY 1, 2;

\echo '\n-- 8. the background worker recovers a message whose consumer went away'
SELECT mq_publish('emails', '{"to": "ops@example.com"}') AS abandoned \gset
SELECT id AS delivered FROM mq_poll('emails', 1, lock_timeout => '1 second', consumer_id => 'vanished-worker');
\echo '   (no mq_complete: the lock expires after 1s and the worker puts the message back)'
DO $$
DECLARE deadline timestamptz := clock_timestamp() + interval '30 seconds';
BEGIN
    WHILE clock_timestamp() < deadline AND NOT EXISTS (
        SELECT 1 FROM mq.traces WHERE event = 'RECOVERED' AND topic = 'emails') LOOP
        PERFORM pg_sleep(0.2);
    END LOOP;
END $$;
SELECT event, detail ->> 'consumer_id' AS consumer, detail ->> 'error' AS error
FROM mq_trace((SELECT trace_id FROM mq.messages WHERE id = :abandoned));
SELECT id, status, retry_count, last_error FROM mq.messages WHERE id = :abandoned;

\echo '\n-- 9. topics as managed queues: a topic with its own settings, paused and resumed'
SELECT mq_create_topic('invoices', max_retries => 5, lock_timeout => '2 minutes',
                       message_ttl => '1 hour', max_depth => 1000,
                       description => 'invoice events') AS created;
SELECT setting, value, source FROM mq_topic_config('invoices')
WHERE setting IN ('max_retries', 'lock_timeout', 'message_ttl', 'retry_base_delay');
SELECT mq_pause('invoices') AS paused;
SELECT mq_publish('invoices', '{"invoice": 7}') AS invoice \gset
SELECT count(*) AS delivered_while_paused FROM mq_poll('invoices', 10);
SELECT mq_resume('invoices') AS resumed;
SELECT id AS delivered_after_resume FROM mq_poll('invoices', 10);
SELECT mq_complete(:invoice) AS completed;

\echo '\n-- 10. a message that expires: never delivered, dead-lettered with error ''expired'''
SELECT mq_publish('quotes', '{"price": 101.5}', expires_at => clock_timestamp() + interval '1 second') AS quote \gset
DO $$
DECLARE deadline timestamptz := clock_timestamp() + interval '30 seconds';
BEGIN
    WHILE clock_timestamp() < deadline AND NOT EXISTS (
        SELECT 1 FROM mq.messages WHERE topic = 'quotes' AND status = 'EXPIRED') LOOP
        PERFORM pg_sleep(0.1);
    END LOOP;
END $$;
SELECT count(*) AS delivered FROM mq_poll('quotes', 10);
SELECT id, status FROM mq.messages WHERE id = :quote;
SELECT original_id, error_message FROM mq.dead_letters WHERE original_id = :quote;
SELECT topic, paused, pending, delayed, processing, dead_letters FROM mq_topics();

\echo '\n-- 11. publish-subscribe: two consumer groups each receive the same order event'
SELECT mq_subscribe('inventory', 'shop.orders.*') AS inventory_subscription,
       mq_subscribe('loyalty', 'shop.#') AS loyalty_subscription;
SELECT mq_publish('shop.orders.created', '{"order": 42, "items": 3}') AS order_event \gset
SELECT consumer_group, topic, payload, mq_complete(id, lease) AS completed
FROM mq_poll('shop.orders.created', consumer_group => 'inventory');
SELECT consumer_group, topic, payload, mq_complete(id, lease) AS completed
FROM mq_poll(NULL, consumer_group => 'loyalty');
SELECT count(*) AS payloads_stored FROM mq.payloads WHERE id = :order_event;
SELECT consumer_group, topic_pattern, pending, processing FROM mq_subscriptions();

\echo '\n-- 12. ordering keys (one at a time per key, in commit order) and dedup keys (a retry publishes nothing)'
SELECT count(*) AS published FROM mq_publish_batch('accounts',
    ARRAY['{"acct": 1, "op": "open"}', '{"acct": 1, "op": "deposit"}', '{"acct": 2, "op": "open"}']::jsonb[],
    ordering_keys => ARRAY['acct-1', 'acct-1', 'acct-2']);
SELECT ordering_key, payload FROM mq_poll('accounts', 10);   -- acct-1's deposit waits for its open
SELECT mq_publish('accounts', '{"acct": 3, "op": "open"}', dedup_key => 'evt-77') AS first_publish,
       mq_publish('accounts', '{"acct": 3, "op": "open"}', dedup_key => 'evt-77') AS retried_publish;
SELECT status, count(*) FROM mq.messages WHERE topic = 'accounts' GROUP BY status ORDER BY status;

\echo '\n-- 13. health checks'
SELECT "check", status, detail ->> 'topic' AS topic FROM mq_health() WHERE "check" IN ('worker', 'snapshot_age', 'dead_tuples') OR status <> 'ok';

\echo '\n-- 14. metrics per topic (rates per second since the snapshot taken at the start)'
SELECT topic, consumer_group, pending, delayed, processing, consumed_total, failed_total, dead_letter_total,
       round(consume_rate::numeric, 3) AS consume_rate, round(success_ratio::numeric, 2) AS success_ratio,
       expired_total, paused, oldest_pending_age
FROM mq_metrics();

\echo '\n-- 15. the same as Prometheus text (first lines)'
SELECT line FROM regexp_split_to_table(mq_metrics_prometheus(), E'\n') AS line LIMIT 9;
