//! pg_mq's pure core: everything that needs no PostgreSQL to be decided or built.
//!
//! - [`error`]: every error a caller can provoke, with its SQLSTATE (the README's Errors table)
//! - [`validation`]: argument checks of the SQL functions
//! - [`backoff`]: retry delays and the retry / dead-letter decision
//! - [`batch`]: ids matched with leases for batch acknowledgements
//! - [`capabilities`]: who may call what, and the topic-grant rule
//! - [`lifecycle`]: the names of message statuses and trace events
//! - [`settings`]: the `pg_mq.*` settings, declared once
//! - [`schedule`]: the background worker's timetable
//! - [`ids`]: time-ordered trace ids
//! - [`hashing`]: topics spread over the long-poll wake-up slots
//! - [`sql_text`]: the text of the runtime statements
//! - [`metrics`], [`prometheus`], [`dashboard`]: metrics arithmetic and the documents built
//!   from it
//!
//! The extension crate (`pg_mq`, at the workspace root) is the PostgreSQL glue around this one;
//! these modules' tests run with `cargo test -p mq_core`, without PostgreSQL headers.

#![forbid(unsafe_code)]

pub mod backoff;
pub mod batch;
pub mod capabilities;
pub mod dashboard;
pub mod error;
pub mod hashing;
pub mod health;
pub mod ids;
pub mod latency;
pub mod lifecycle;
pub mod metrics;
pub mod prometheus;
pub mod routing;
pub mod schedule;
pub mod settings;
pub mod sql_text;
pub mod topics;
pub mod validation;
