//! The SQL surface: every `mq_*` function, one file per family. Each checks its arguments
//! (`mq_core::validation`), checks topic grants (`privileges`) and runs its statements.

mod consumers;
mod health;
mod legacy;
pub(crate) mod monitoring;
mod operations;
mod ordering;
mod poll;
pub mod privileges;
mod publish;
mod replay;
mod settle;
mod subscriptions;
mod topics;
mod trace;
