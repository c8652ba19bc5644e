-- Every kind of bad argument: its ERROR, HINT and SQLSTATE as the README's Errors section
-- documents them. Nothing is written by a call that fails.
\set VERBOSITY default
\set SHOW_CONTEXT never
SET client_min_messages = warning;
TRUNCATE mq.messages, mq.dead_letters, mq.traces, mq.metric_counts RESTART IDENTITY;

-- null_value_not_allowed (22004)
SELECT mq_publish(NULL, '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT mq_publish('t', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq_poll('t', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT mq_complete(NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq_publish_batch('t', ARRAY['{}', NULL]::jsonb[]);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq_poll('t', wait => NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq_complete_batch(ARRAY[1, 2], NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq_fail_batch(ARRAY[1, 2], ARRAY['6f1c2a3e-7d0b-4c1e-9a55-0b8e2f1d9c44'::uuid, NULL]);
\echo :LAST_ERROR_SQLSTATE
SELECT mq_extend(1, NULL, '1 minute');
\echo :LAST_ERROR_SQLSTATE

-- invalid_parameter_value (22023)
SELECT mq_publish('my topic', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT mq_publish('', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT mq_publish(repeat('x', 256), '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT mq_publish('t', '{}', execute_at => now(), delay => '1 minute');
\echo :LAST_ERROR_SQLSTATE
SELECT mq_publish('t', '{}', delay => '-1 second');
\echo :LAST_ERROR_SQLSTATE
SELECT mq_publish('t', '{}', execute_at => 'infinity');
\echo :LAST_ERROR_SQLSTATE
SELECT mq_publish('t', '{}', max_retries => -1);
\echo :LAST_ERROR_SQLSTATE
SELECT mq_publish('t', '{}', headers => '[1, 2]');
\echo :LAST_ERROR_SQLSTATE
SELECT mq_publish('t', '{}', delay => '292000 years');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq_poll('t', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq_poll('t', lock_timeout => '0');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq_poll('t', consumer_id => repeat('c', 256));
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq_poll('t', wait => '-1 second');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq_complete_batch(ARRAY[1, 2], ARRAY['6f1c2a3e-7d0b-4c1e-9a55-0b8e2f1d9c44'::uuid]);
\echo :LAST_ERROR_SQLSTATE
SELECT mq_complete(1, topic => 'no such topic');
\echo :LAST_ERROR_SQLSTATE
SELECT mq_fail(1, 'x', retry_in => '-1 second');
\echo :LAST_ERROR_SQLSTATE
SELECT mq_extend(1, '6f1c2a3e-7d0b-4c1e-9a55-0b8e2f1d9c44', '0');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq_publish_batch('t', ARRAY['{}']::jsonb[], delay => '-1 second');
\echo :LAST_ERROR_SQLSTATE
SELECT mq_cleanup('PENDING');
\echo :LAST_ERROR_SQLSTATE
SELECT mq_cleanup(older_than => '-1 day');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq_metrics('0');
\echo :LAST_ERROR_SQLSTATE
SELECT mq_dashboard('1 day', '1 second');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq_messages(page => 0);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq_messages(page_size => 10001);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq_messages(status => 'LOST');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq_traces(event => 'LOST');
\echo :LAST_ERROR_SQLSTATE
SELECT mq_grant('root', 'postgres');
\echo :LAST_ERROR_SQLSTATE
SELECT mq_grant('admin', 'postgres', 'orders');
\echo :LAST_ERROR_SQLSTATE

-- program_limit_exceeded (54000)
SET pg_mq.max_payload_size = 16;
SELECT mq_publish('t', '{"a long enough payload": true}');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq_publish_batch('t', ARRAY['{}', '{"a long enough payload": true}']::jsonb[]);
\echo :LAST_ERROR_SQLSTATE
RESET pg_mq.max_payload_size;

-- no_data_found (P0002) and object_not_in_prerequisite_state (55000)
SELECT mq_replay(-1);
\echo :LAST_ERROR_SQLSTATE
SELECT mq_publish('dl', '{}', max_retries => 0) AS dl_id \gset
SELECT mq_fail(id, 'broken') FROM mq_poll('dl', 1);
SELECT mq_replay(id) IS NOT NULL AS replayed FROM mq.dead_letters;
SELECT mq_replay(id) FROM mq.dead_letters;
\echo :LAST_ERROR_SQLSTATE

-- undefined_object (42704)
SELECT mq_grant('producer', 'no_such_role');
\echo :LAST_ERROR_SQLSTATE

-- Ordering and dedup keys.
SELECT mq_publish('errs', '{}', ordering_key => '');
\echo :LAST_ERROR_SQLSTATE
SELECT mq_publish('errs', '{}', dedup_key => repeat('k', 256));
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq_publish_batch('errs', ARRAY['{}', '{}']::jsonb[], ordering_keys => ARRAY['a']);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq_publish_batch('errs', ARRAY['{}', '{}']::jsonb[], dedup_keys => ARRAY['a', '']);
\echo :LAST_ERROR_SQLSTATE
SELECT mq_create_topic('errs-order', ordering_dead_letter => 'wait');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM mq_blocked_keys(NULL);
\echo :LAST_ERROR_SQLSTATE

-- Nothing was written by the calls that failed: only the dead-letter walk-through left rows.
SELECT topic, status FROM mq.messages ORDER BY id;
