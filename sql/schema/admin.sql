-- pg_mq administration from psql: listings with paging and queue depth.
--
-- The listings run as their owner (SECURITY DEFINER, search_path pinned) so that the admin and
-- monitor capabilities need only EXECUTE on them; mq_grant gives it.
--
-- Each listing returns rows of its table, newest first, page by page:
--   SELECT id, topic, status, last_error FROM mq_messages('orders', 'FAILED', page => 2);

-- Checks the paging arguments every listing takes.
CREATE FUNCTION mq.check_paging(page integer, page_size integer)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF page IS NULL THEN
        RAISE EXCEPTION 'argument "page" must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF page_size IS NULL THEN
        RAISE EXCEPTION 'argument "page_size" must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF page < 1 THEN
        RAISE EXCEPTION 'argument "page" must be 1 or more, got %', page USING ERRCODE = '22023';
    END IF;
    IF page_size NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION 'argument "page_size" must be between 1 and 10000, got %', page_size
            USING ERRCODE = '22023';
    END IF;
END
$$;

-- Messages, filtered by topic, status, trace id, ordering key, dedup key and headers (NULL:
-- any), newest first. With a topic, each status is read through an index that leads with the
-- topic (the claim indexes, messages_finished_idx, messages_waiting_idx,
-- messages_scheduled_topic_idx) or through the small index of in-flight rows, each part taking
-- its newest rows up to the page's end, planned for the arguments of the call; so a page costs
-- what the topic holds in the statuses asked for, not what the table holds. A dedup key is
-- looked up in mq.dedup_keys, so it finds its message while the topic remembers the key.
CREATE FUNCTION mq_messages(topic text DEFAULT NULL, status text DEFAULT NULL,
                            trace_id uuid DEFAULT NULL, page integer DEFAULT 1,
                            page_size integer DEFAULT 50, ordering_key text DEFAULT NULL,
                            dedup_key text DEFAULT NULL, headers jsonb DEFAULT NULL)
RETURNS SETOF mq.messages
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- The filters every part applies; $1 .. $8 are the arguments, $9 the page's end.
    filters constant text :=
        ' AND ($3 IS NULL OR m.trace_id = $3) AND ($6 IS NULL OR m.ordering_key = $6)'
        ' AND ($8 IS NULL OR coalesce(m.headers, (SELECT p.headers FROM mq.payloads p'
        ' WHERE p.id = m.payload_id)) @> $8)';
    parts text;
BEGIN
    PERFORM mq.check_paging($4, $5);
    IF $2 IS NOT NULL AND $2 NOT IN ('WAITING', 'SCHEDULED', 'PENDING', 'PROCESSING', 'COMPLETED',
                                     'FAILED', 'EXPIRED') THEN
        RAISE EXCEPTION 'argument "status" must be WAITING, SCHEDULED, PENDING, PROCESSING, COMPLETED, FAILED or EXPIRED, got %', $2
            USING ERRCODE = '22023';
    END IF;
    IF $8 IS NOT NULL AND jsonb_typeof($8) <> 'object' THEN
        RAISE EXCEPTION 'argument "headers" must be a JSON object, got %', jsonb_typeof($8)
            USING ERRCODE = '22023';
    END IF;
    IF $7 IS NOT NULL THEN
        -- The message that took the key (point-to-point), or the deliveries of it (groups).
        RETURN QUERY EXECUTE
            'SELECT m.* FROM mq.messages m'
            ' WHERE m.id IN (SELECT d.message_id FROM mq.dedup_keys d'
            '                WHERE d.dedup_key = $7 AND ($1 IS NULL OR d.topic = $1)'
            '                UNION ALL'
            '                SELECT g.id FROM mq.dedup_keys d JOIN mq.messages g ON g.payload_id = d.message_id'
            '                WHERE d.dedup_key = $7 AND ($1 IS NULL OR d.topic = $1))'
            ' AND ($1 IS NULL OR m.topic = $1) AND ($2 IS NULL OR m.status = $2)' || filters ||
            ' ORDER BY m.id DESC LIMIT $5 OFFSET $9 - $5'
            USING $1, $2, $3, $4, $5, $6, $7, $8, $4::bigint * $5;
        RETURN;
    END IF;
    IF $1 IS NULL THEN
        RETURN QUERY EXECUTE
            'SELECT m.* FROM mq.messages m WHERE ($2 IS NULL OR m.status = $2)' || filters ||
            ' ORDER BY m.id DESC LIMIT $5 OFFSET $9 - $5'
            USING $1, $2, $3, $4, $5, $6, $7, $8, $4::bigint * $5;
        RETURN;
    END IF;
    SELECT string_agg(format('(SELECT m.* FROM mq.messages m WHERE m.topic = $1 AND %s%s'
                             ' ORDER BY m.id DESC LIMIT $9)', p.condition, filters),
                      ' UNION ALL ')
    INTO parts
    FROM (VALUES
        ('WAITING', 'm.status = ''WAITING'''),
        ('SCHEDULED', 'm.status = ''SCHEDULED'''),
        ('PENDING', 'm.status = ''PENDING'' AND m.consumer_group IS NULL'),
        -- a group's claim index leads with the group: the groups are found by skipping
        -- through it, one probe per group
        ('PENDING', 'm.status = ''PENDING'' AND m.consumer_group = ANY (ARRAY('
                    'WITH RECURSIVE g(name) AS ('
                    ' SELECT min(x.consumer_group) FROM mq.messages x'
                    ' WHERE x.status = ''PENDING'' AND x.consumer_group IS NOT NULL'
                    ' UNION ALL'
                    ' SELECT (SELECT min(x.consumer_group) FROM mq.messages x'
                    '         WHERE x.status = ''PENDING'' AND x.consumer_group IS NOT NULL'
                    '           AND x.consumer_group > g.name)'
                    ' FROM g WHERE g.name IS NOT NULL)'
                    ' SELECT g.name FROM g WHERE g.name IS NOT NULL))'),
        ('PROCESSING', 'm.status = ''PROCESSING'' AND m.locked_until IS NOT NULL'),
        ('COMPLETED', 'm.status = ''COMPLETED'''),
        ('FAILED', 'm.status = ''FAILED'''),
        ('EXPIRED', 'm.status = ''EXPIRED''')) AS p(status, condition)
    WHERE $2 IS NULL OR p.status = $2;
    RETURN QUERY EXECUTE
        'SELECT m.* FROM (' || parts || ') m ORDER BY m.id DESC LIMIT $5 OFFSET $9 - $5'
        USING $1, $2, $3, $4, $5, $6, $7, $8, $4::bigint * $5;
END
$$;

-- Dead letters, filtered by topic and replayed (NULL: any), newest first.
CREATE FUNCTION mq_dead_letters(topic text DEFAULT NULL, replayed boolean DEFAULT NULL,
                                page integer DEFAULT 1, page_size integer DEFAULT 50)
RETURNS SETOF mq.dead_letters
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM mq.check_paging($3, $4);
    RETURN QUERY
        SELECT d.*
        FROM mq.dead_letters d
        WHERE ($1 IS NULL OR d.topic = $1)
          AND ($2 IS NULL OR d.replayed = $2)
        ORDER BY d.id DESC
        LIMIT $4 OFFSET ($3 - 1)::bigint * $4;
END
$$;

-- Trace events, filtered by topic, message id and event (NULL: any), newest first.
CREATE FUNCTION mq_traces(topic text DEFAULT NULL, message_id bigint DEFAULT NULL,
                          event text DEFAULT NULL, page integer DEFAULT 1,
                          page_size integer DEFAULT 50)
RETURNS SETOF mq.traces
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    message_trace uuid;
BEGIN
    PERFORM mq.check_paging($4, $5);
    IF $3 IS NOT NULL AND $3 NOT IN ('PUBLISHED', 'PROCESSING', 'COMPLETED', 'FAILED',
                                     'DEAD_LETTERED', 'REPLAYED', 'RECOVERED', 'PURGED',
                                     'EXPIRED') THEN
        RAISE EXCEPTION 'argument "event" must be a pg_mq trace event, got %', $3
            USING ERRCODE = '22023',
                  HINT = 'PUBLISHED, PROCESSING, COMPLETED, FAILED, DEAD_LETTERED, REPLAYED, RECOVERED, PURGED or EXPIRED';
    END IF;
    IF $2 IS NOT NULL THEN
        -- A message's rows share its trace id: look them up through the primary key.
        SELECT m.trace_id INTO message_trace FROM mq.messages m WHERE m.id = $2;
    END IF;
    -- The rows, the PROCESSING event of each attempt a row ended (kept in the row that ended
    -- it), and the PROCESSING event of each attempt in flight (read from its message); see
    -- mq.traces. The PROCESSING events have no started_id, started_at, locked_until of their own.
    RETURN QUERY
        SELECT x.*
        FROM (
            SELECT t.*
            FROM mq.traces t
            WHERE ($1 IS NULL OR t.topic = $1)
              AND ($2 IS NULL OR t.message_id = $2)
              AND (message_trace IS NULL OR t.trace_id = message_trace)
              AND ($3 IS NULL OR t.event = $3)
            UNION ALL
            SELECT t.started_id, t.trace_id, t.message_id, t.topic, 'PROCESSING',
                   jsonb_build_object('consumer_id', t.detail -> 'consumer_id',
                                      'attempt', t.detail -> 'attempt',
                                      'locked_until', t.locked_until)
                   || CASE WHEN t.detail ? 'consumer_group'
                           THEN jsonb_build_object('consumer_group', t.detail -> 'consumer_group')
                           ELSE '{}'::jsonb END,
                   t.started_at, NULL::bigint, NULL::timestamptz, NULL::timestamptz
            FROM mq.traces t
            WHERE t.started_id IS NOT NULL
              AND ($1 IS NULL OR t.topic = $1)
              AND ($2 IS NULL OR t.message_id = $2)
              AND (message_trace IS NULL OR t.trace_id = message_trace)
              AND ($3 IS NULL OR $3 = 'PROCESSING')
            UNION ALL
            SELECT m.processing_id, m.trace_id, m.id, m.topic, 'PROCESSING',
                   jsonb_build_object('consumer_id', m.consumer_id, 'attempt', m.retry_count + 1,
                                      'locked_until', m.locked_until)
                   || CASE WHEN m.consumer_group IS NULL THEN '{}'::jsonb
                           ELSE jsonb_build_object('consumer_group', m.consumer_group) END,
                   m.locked_at, NULL::bigint, NULL::timestamptz, NULL::timestamptz
            FROM mq.messages m
            WHERE m.locked_until IS NOT NULL AND m.status = 'PROCESSING'
              AND m.processing_id IS NOT NULL
              AND ($1 IS NULL OR m.topic = $1)
              AND ($2 IS NULL OR m.id = $2)
              AND ($3 IS NULL OR $3 = 'PROCESSING')
        ) x
        ORDER BY x.id DESC
        LIMIT $5 OFFSET ($4 - 1)::bigint * $5;
END
$$;

-- Queue depth per topic (and consumer group: NULL for point-to-point messages), now.
CREATE VIEW mq.queue_depth AS
    SELECT topic, NULLIF(consumer_group, '') AS consumer_group, pending, delayed, processing,
           oldest_pending_age
    FROM mq.current_metrics(clock_timestamp())
    WHERE pending + delayed + processing > 0;

COMMENT ON VIEW mq.queue_depth IS 'pg_mq: messages waiting (pending: due; delayed: not yet due) and in flight, per topic and consumer group';

-- Queue depth of one topic, or of every topic with messages waiting or in flight.
CREATE FUNCTION mq_depth(topic text DEFAULT NULL)
RETURNS SETOF mq.queue_depth
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT d.* FROM mq.queue_depth d WHERE $1 IS NULL OR d.topic = $1
    ORDER BY d.topic, d.consumer_group NULLS FIRST
$$;
