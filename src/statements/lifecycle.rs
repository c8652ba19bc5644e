//! SQL of the message lifecycle: publish, claim, complete, fail, replay, trace.
//!
//! The lines between `--trace{` and `--}trace` write trace rows; with `pg_mq.trace = off` the
//! statement is prepared without them.

/// $1 topic, $2 payload, $3 headers, $4 priority, $5 max_retries, $6 execute_at, $7 delay,
/// $8 trace_id, $9 now. Returns the new id.
pub const PUBLISH: &str = "
WITH message AS (
    INSERT INTO mq.messages
        (topic, payload, headers, priority, max_retries, execute_at, trace_id, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, coalesce($6, $9 + $7, $9), $8, $9, $9)
    RETURNING id, topic, trace_id, priority, max_retries, execute_at
)
--trace{
, traced AS (
    INSERT INTO mq.traces (trace_id, message_id, topic, event, detail, created_at)
    SELECT trace_id, id, topic, 'PUBLISHED',
           pg_catalog.jsonb_build_object('priority', priority, 'max_retries', max_retries,
                                         'execute_at', execute_at),
           $9
    FROM message
)
--}trace
SELECT id FROM message";

/// PUBLISH with tracing off: a plain INSERT.
pub const PUBLISH_UNTRACED: &str = "
INSERT INTO mq.messages
    (topic, payload, headers, priority, max_retries, execute_at, trace_id, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, coalesce($6, $9 + $7, $9), $8, $9, $9)
RETURNING id";

/// $1 topic, $2 payloads, $3 headers, $4 priority, $5 max_retries, $6 execute_at, $7 now,
/// $8 trace ids (one per payload). Publishes one message per payload, in array order; returns the new ids (the caller sorts
/// them: ids are drawn in array order).
pub const PUBLISH_BATCH: &str = "
WITH message AS (
    INSERT INTO mq.messages
        (topic, payload, headers, priority, max_retries, execute_at, trace_id, created_at, updated_at)
    SELECT $1, p.payload, $3, $4, $5, coalesce($6, $7), p.trace_id, $7, $7
    FROM ROWS FROM (pg_catalog.unnest($2::jsonb[]), pg_catalog.unnest($8::uuid[]))
         WITH ORDINALITY AS p(payload, trace_id, n)
    ORDER BY p.n
    RETURNING id, topic, trace_id, priority, max_retries, execute_at
)
--trace{
, traced AS (
    INSERT INTO mq.traces (trace_id, message_id, topic, event, detail, created_at)
    SELECT trace_id, id, topic, 'PUBLISHED',
           pg_catalog.jsonb_build_object('priority', priority, 'max_retries', max_retries,
                                         'execute_at', execute_at),
           $7
    FROM message
)
--}trace
SELECT id FROM message";

/// PUBLISH_BATCH with tracing off: a plain INSERT.
pub const PUBLISH_BATCH_UNTRACED: &str = "
INSERT INTO mq.messages
    (topic, payload, headers, priority, max_retries, execute_at, trace_id, created_at, updated_at)
SELECT $1, p.payload, $3, $4, $5, coalesce($6, $7), p.trace_id, $7, $7
FROM ROWS FROM (pg_catalog.unnest($2::jsonb[]), pg_catalog.unnest($8::uuid[]))
     WITH ORDINALITY AS p(payload, trace_id, n)
ORDER BY p.n
RETURNING id";

/// $1 topic, $2 batch_size, $3 consumer_id, $4 lock_timeout, $5 now.
/// Claims up to $2 due PENDING messages of the topic, skipping rows other pollers hold. The
/// candidates are locked in the inner SELECT and updated through the primary key, a plan that
/// stays right whatever the batch size. Rows come back unordered, with their due time; the
/// caller sorts them.
pub const CLAIM: &str = "
WITH claimed AS (
    UPDATE mq.messages m
    SET status = 'PROCESSING', consumer_id = $3, locked_at = $5, locked_until = $5 + $4,
        lease = pg_catalog.gen_random_uuid(), updated_at = $5
    WHERE m.id = ANY (ARRAY(
        SELECT id
        FROM mq.messages
        WHERE status = 'PENDING' AND topic = $1 AND coalesce(next_retry_at, execute_at) <= $5
        ORDER BY priority DESC, coalesce(next_retry_at, execute_at), id
        LIMIT $2
        FOR UPDATE SKIP LOCKED))
    RETURNING m.id, m.topic, m.payload, m.headers, m.priority, m.retry_count, m.max_retries,
              m.trace_id, m.created_at, m.lease, m.locked_until,
              coalesce(m.next_retry_at, m.execute_at) AS due_at
)
--trace{
, traced AS (
    INSERT INTO mq.traces (trace_id, message_id, topic, event, detail, created_at)
    SELECT trace_id, id, topic, 'PROCESSING',
           pg_catalog.jsonb_build_object('consumer_id', $3, 'attempt', retry_count + 1,
                                         'locked_until', locked_until),
           $5
    FROM claimed
)
--}trace
SELECT id, topic, payload, headers, priority, retry_count, max_retries, trace_id, created_at, lease,
       due_at
FROM claimed";

/// CLAIM with tracing off: the UPDATE alone (the caller orders the rows).
pub const CLAIM_UNTRACED: &str = "
UPDATE mq.messages m
SET status = 'PROCESSING', consumer_id = $3, locked_at = $5, locked_until = $5 + $4,
    lease = pg_catalog.gen_random_uuid(), updated_at = $5
WHERE m.id = ANY (ARRAY(
    SELECT id
    FROM mq.messages
    WHERE status = 'PENDING' AND topic = $1 AND coalesce(next_retry_at, execute_at) <= $5
    ORDER BY priority DESC, coalesce(next_retry_at, execute_at), id
    LIMIT $2
    FOR UPDATE SKIP LOCKED))
RETURNING m.id, m.topic, m.payload, m.headers, m.priority, m.retry_count, m.max_retries,
          m.trace_id, m.created_at, m.lease, coalesce(m.next_retry_at, m.execute_at)";

/// $1 id, $2 lease (NULL: the current delivery), $3 now. Returns the id when
/// completed, and counts the completion for the metrics.
pub const COMPLETE: &str = "
WITH done AS (
    UPDATE mq.messages
    SET status = 'COMPLETED', locked_until = NULL, updated_at = $3
    WHERE id = $1 AND status = 'PROCESSING' AND ($2::uuid IS NULL OR lease = $2)
    RETURNING id, topic, trace_id, consumer_id, retry_count
)
--trace{
, traced AS (
    INSERT INTO mq.traces (trace_id, message_id, topic, event, detail, created_at)
    SELECT trace_id, id, topic, 'COMPLETED',
           pg_catalog.jsonb_build_object('consumer_id', consumer_id, 'attempt', retry_count + 1),
           $3
    FROM done
)
--}trace
, counted AS (
    INSERT INTO mq.metric_counts (topic, consumed, counted_at)
    SELECT topic, count(*), $3 FROM done GROUP BY topic
)
SELECT id FROM done";

/// $1 ids, $2 now. Completes the listed messages that are PROCESSING; returns how
/// many. Rows are locked in id order, so concurrent batch completions cannot deadlock.
pub const COMPLETE_MANY: &str = "
WITH done AS (
    UPDATE mq.messages
    SET status = 'COMPLETED', locked_until = NULL, updated_at = $2
    WHERE id = ANY($1) AND status = 'PROCESSING'
    RETURNING id, topic, trace_id, consumer_id, retry_count
)
--trace{
, traced AS (
    INSERT INTO mq.traces (trace_id, message_id, topic, event, detail, created_at)
    SELECT trace_id, id, topic, 'COMPLETED',
           pg_catalog.jsonb_build_object('consumer_id', consumer_id, 'attempt', retry_count + 1),
           $2
    FROM done
)
--}trace
, counted AS (
    INSERT INTO mq.metric_counts (topic, consumed, counted_at)
    SELECT topic, count(*), $2 FROM done GROUP BY topic
)
SELECT count(*) FROM done";

/// $1 ids, $2 lease (NULL: the current delivery). Locks the in-flight messages a failure report
/// is about, in id order, and returns what the retry decision needs.
pub const LOCK_FOR_FAILURE: &str = "
SELECT id, retry_count, max_retries
FROM mq.messages
WHERE id = ANY($1) AND status = 'PROCESSING' AND ($2::uuid IS NULL OR lease = $2)
ORDER BY id
FOR UPDATE";

/// $1 topic (NULL: every topic), $2 now, $3 limit. Locks in-flight messages whose lock has
/// expired, skipping any a consumer is settling right now.
pub const LOCK_EXPIRED: &str = "
SELECT id, retry_count, max_retries
FROM mq.messages
WHERE locked_until < $2 AND status = 'PROCESSING' AND ($1::text IS NULL OR topic = $1)
ORDER BY locked_until
LIMIT $3
FOR UPDATE SKIP LOCKED";

/// $1 ids, $2 next_retry_at per id (NULL: retries exhausted), $3 error, $4 now,
/// $5 trace event for a retry ('FAILED' or 'RECOVERED').
/// Settles failed deliveries locked by LOCK_FOR_FAILURE or LOCK_EXPIRED: back to PENDING, or
/// FAILED with a dead letter. Returns each message's id, new status and topic.
pub const SETTLE: &str = "
WITH outcome AS (
    SELECT o.id, o.next_retry_at
    FROM ROWS FROM (pg_catalog.unnest($1::bigint[]), pg_catalog.unnest($2::timestamptz[]))
         AS o(id, next_retry_at)
), settled AS (
    UPDATE mq.messages m
    SET status = CASE WHEN o.next_retry_at IS NULL THEN 'FAILED' ELSE 'PENDING' END,
        retry_count = m.retry_count + 1,
        next_retry_at = o.next_retry_at,
        last_error = $3,
        locked_until = NULL,
        updated_at = $4
    FROM outcome o
    WHERE m.id = o.id AND m.id = ANY($1) AND m.status = 'PROCESSING'
    RETURNING m.id, m.topic, m.payload, m.headers, m.priority, m.max_retries, m.trace_id,
              m.retry_count, m.consumer_id, m.next_retry_at, m.status
), dead AS (
    INSERT INTO mq.dead_letters
        (original_id, topic, payload, headers, priority, max_retries, trace_id, error_message,
         retry_count, created_at)
    SELECT id, topic, payload, headers, priority, max_retries, trace_id, $3, retry_count, $4
    FROM settled
    WHERE status = 'FAILED'
    RETURNING id, original_id
)
--trace{
, traced AS (
    INSERT INTO mq.traces (trace_id, message_id, topic, event, detail, created_at)
    SELECT trace_id, id, topic, CASE WHEN status = 'FAILED' THEN 'FAILED' ELSE $5 END,
           pg_catalog.jsonb_build_object('error', $3, 'attempt', retry_count,
                                         'consumer_id', consumer_id, 'next_retry_at', next_retry_at),
           $4
    FROM settled
    UNION ALL
    SELECT s.trace_id, s.id, s.topic, 'DEAD_LETTERED',
           pg_catalog.jsonb_build_object('dead_letter_id', d.id, 'retry_count', s.retry_count),
           $4
    FROM settled s JOIN dead d ON d.original_id = s.id
)
--}trace
, counted AS (
    INSERT INTO mq.metric_counts (topic, failed, dead_lettered, counted_at)
    SELECT topic, count(*), count(*) FILTER (WHERE status = 'FAILED'), $4
    FROM settled
    GROUP BY topic
)
SELECT id, status, topic FROM settled";

/// $1 dead letter ids, $2 now. Replays those not yet replayed as new PENDING
/// messages; returns (dead_letter_id, message_id, topic) in dead letter id order.
pub const REPLAY: &str = "
WITH picked AS MATERIALIZED (
    SELECT d.id AS dead_letter_id, d.original_id, d.topic, d.payload, d.headers, d.priority,
           d.max_retries, d.trace_id,
           pg_catalog.nextval('mq.messages_id_seq'::pg_catalog.regclass) AS message_id
    FROM mq.dead_letters d
    WHERE d.id = ANY($1) AND NOT d.replayed
    ORDER BY d.id
    FOR UPDATE
), inserted AS (
    INSERT INTO mq.messages
        (id, topic, payload, headers, priority, max_retries, execute_at, trace_id, created_at,
         updated_at)
    SELECT message_id, topic, payload, headers, priority, max_retries, $2, trace_id, $2, $2
    FROM picked
), marked AS (
    UPDATE mq.dead_letters d
    SET replayed = true, replayed_at = $2, replayed_message_id = p.message_id
    FROM picked p
    WHERE d.id = p.dead_letter_id AND d.id = ANY($1)
)
--trace{
, traced AS (
    INSERT INTO mq.traces (trace_id, message_id, topic, event, detail, created_at)
    SELECT trace_id, message_id, topic, 'REPLAYED',
           pg_catalog.jsonb_build_object('dead_letter_id', dead_letter_id,
                                         'original_id', original_id),
           $2
    FROM picked
)
--}trace
SELECT dead_letter_id, message_id, topic FROM picked ORDER BY dead_letter_id";

/// $1 dead letter id. Why a replay found nothing: (replayed, replayed_message_id), or no row.
pub const DEAD_LETTER_STATE: &str = "
SELECT replayed, replayed_message_id FROM mq.dead_letters WHERE id = $1";

/// $1 trace_id. The chain in the order it happened (trace ids are drawn in causal order).
pub const TRACE: &str = "
SELECT event, message_id, topic, detail, created_at
FROM mq.traces
WHERE trace_id = $1
ORDER BY id";
