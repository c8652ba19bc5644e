-- Makes the publishers of one capped topic take turns until their transactions end, so that
-- each counts the messages of those before it (a transaction-level advisory lock in a class of
-- pg_mq's own, keyed by the topic's hash).
SELECT pg_catalog.pg_advisory_xact_lock(1836151, pg_catalog.hashtext($1)) AS locked
