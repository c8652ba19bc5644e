//! mq-console: the web console of pg_mq.
//!
//! The pure parts (tokens, sessions, CSRF, parameters, chart shaping, row rendering) are
//! modules of their own with unit tests; `queries` holds every SQL statement; `web` is the
//! HTTP side.

pub mod auth;
pub mod cache;
pub mod charts;
pub mod config;
pub mod db;
pub mod error;
pub mod filters;
pub mod queries;
pub mod rows;
pub mod templates;
pub mod web;
