-- The cluster-wide figures of mq_health: the oldest transaction snapshot any session (or
-- prepared transaction) holds, with who holds it; the pg_mq table with the largest share of
-- dead tuples; the time of the last metrics snapshot.
WITH holders AS (
    SELECT a.pid, a.datname::text AS database, a.usename::text AS role, a.state,
           a.application_name, a.xact_start AS since
    FROM pg_catalog.pg_stat_activity a
    WHERE a.backend_xmin IS NOT NULL AND a.xact_start IS NOT NULL
      AND a.pid <> pg_catalog.pg_backend_pid()
    UNION ALL
    SELECT NULL, p.database::text, p.owner::text, 'prepared', p.gid, p.prepared
    FROM pg_catalog.pg_prepared_xacts p
), oldest AS (
    SELECT * FROM holders ORDER BY since LIMIT 1
), dead AS (
    SELECT s.relname::text AS relname, s.n_dead_tup, s.n_live_tup, s.last_autovacuum
    FROM pg_catalog.pg_stat_user_tables s
    WHERE s.schemaname = 'mq'
    ORDER BY s.n_dead_tup::float8 / greatest(s.n_dead_tup + s.n_live_tup, 1) DESC, s.n_dead_tup DESC
    LIMIT 1
)
SELECT EXTRACT(epoch FROM $1 - o.since)::float8 AS snapshot_age,
       o.pid AS snapshot_pid, o.database AS snapshot_database, o.role AS snapshot_role,
       o.state AS snapshot_state, o.application_name AS snapshot_application,
       d.relname AS dead_table, d.n_dead_tup AS dead_tuples, d.n_live_tup AS live_tuples,
       d.last_autovacuum AS last_autovacuum,
       (SELECT EXTRACT(epoch FROM $1 - max(sampled_at))::float8
        FROM mq.metric_snapshots) AS snapshot_taken_ago
FROM (SELECT 1) one
LEFT JOIN oldest o ON true
LEFT JOIN dead d ON true
