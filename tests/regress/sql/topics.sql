-- Topics as managed queues: what an operator sees in psql when creating, configuring,
-- pausing and dropping a topic, and every bad argument's ERROR and SQLSTATE.
\set VERBOSITY default
\set SHOW_CONTEXT never
SET client_min_messages = warning;
TRUNCATE mq.messages, mq.dead_letters, mq.traces, mq.metric_counts, mq.topics RESTART IDENTITY;
SET pg_mq.default_max_retries = 3;
SET pg_mq.lock_timeout = '30s';

SELECT mq_create_topic('orders', max_retries => 5, lock_timeout => '2 minutes',
                       message_ttl => '1 day', max_depth => 10000,
                       description => 'order events');
SELECT mq_create_topic('orders');
SELECT * FROM mq_topic_config('orders');
SELECT * FROM mq_topic_config('orders', lock_timeout => '5 seconds')
WHERE setting = 'lock_timeout';
SELECT mq_alter_topic('orders', retention => '3 days', reset => ARRAY['max_depth', 'message_ttl']);

SELECT mq_publish('orders', '{"n": 1}') AS id \gset
SELECT mq_pause('orders'), mq_pause('orders');
SELECT count(*) AS delivered_while_paused FROM mq_poll('orders', 10);
SELECT topic, paused, config->>'lock_timeout' AS lock_timeout, description, pending, delayed,
       processing, dead_letters
FROM mq_topics();
SELECT mq_resume('orders'), mq_resume('orders');
SELECT count(*) AS delivered_after_resume FROM mq_poll('orders', 10);

SELECT mq_drop_topic('orders');
\echo :LAST_ERROR_SQLSTATE
SELECT mq_drop_topic('orders', force => true);
SELECT count(*) AS topics_left FROM mq_topics();

-- Bad arguments.
SELECT mq_create_topic(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT mq_create_topic('t', lock_timeout => '0');
\echo :LAST_ERROR_SQLSTATE
SELECT mq_create_topic('t', retry_max_delay => '-1 second');
\echo :LAST_ERROR_SQLSTATE
SELECT mq_create_topic('t', message_ttl => '2000 years');
\echo :LAST_ERROR_SQLSTATE
SELECT mq_create_topic('t', max_depth => 0);
\echo :LAST_ERROR_SQLSTATE
SELECT mq_create_topic('t', ordering_dead_letter => 'wait');
\echo :LAST_ERROR_SQLSTATE
SELECT mq_alter_topic('missing', max_retries => 1);
\echo :LAST_ERROR_SQLSTATE
SELECT mq_create_topic('t');
SELECT mq_alter_topic('t', reset => ARRAY['lock_timeot']);
\echo :LAST_ERROR_SQLSTATE
SELECT mq_alter_topic('t', reset => ARRAY[NULL]);
\echo :LAST_ERROR_SQLSTATE
SELECT mq_pause('missing');
\echo :LAST_ERROR_SQLSTATE
SELECT mq_publish('t', '{}', expires_at => '2000-01-01');
\echo :LAST_ERROR_SQLSTATE
SELECT mq_alter_topic('t', max_depth => 1);
SELECT mq_publish('t', '{}') IS NOT NULL AS published;
SELECT mq_publish('t', '{}');
\echo :LAST_ERROR_SQLSTATE
SET pg_mq.auto_create_topics = off;
SELECT mq_publish('never-created', '{}');
\echo :LAST_ERROR_SQLSTATE
RESET pg_mq.auto_create_topics;
