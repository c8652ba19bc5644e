-- pg_mq 0.2.0 -> 0.3.0.
--
-- Run with: ALTER EXTENSION pg_mq UPDATE;   (tested by tests/live/tests/lifecycle.rs, which
-- checks that the result matches a fresh CREATE EXTENSION of 0.3.0 object by object and that
-- a live queue is carried over).

\echo Use "ALTER EXTENSION pg_mq UPDATE TO '0.3.0'" to load this file. \quit
