//! Every SQL statement pg_mq runs, and the per-backend cache of their prepared plans.
//!
//! Each statement is prepared once per backend as a generic plan (see `spi`) and reused; the
//! plan cache replans it by itself when the tables change. Each lifecycle statement is one
//! round trip: the state change, its dead letter, its counters and its trace rows are written
//! by data-modifying CTEs in the same statement. With `pg_mq.trace = off` a second plan of each
//! statement is used, prepared without its trace parts. Tables are qualified with their schema
//! and the SQL functions calling these statements pin search_path to pg_catalog, so a caller's
//! search_path cannot redirect a name.

mod access;
mod lifecycle;
mod operations;
mod spi;

use std::cell::RefCell;

use pgrx::datum::DatumWithOid;
use pgrx::pg_sys;
use pgrx::spi::SpiClient;
use pgrx::FromDatum;

use crate::settings;

use spi::Plan;
pub use spi::Rows;

/// Declares [`Statement`] and, for the tests, the list of all its variants, from one list.
macro_rules! statements {
    ($($name:ident),+ $(,)?) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Statement {
            $($name),+
        }

        const STATEMENT_COUNT: usize = [$(Statement::$name),+].len();

        #[cfg(test)]
        const ALL: [Statement; STATEMENT_COUNT] = [$(Statement::$name),+];
    };
}

statements! {
    Publish,
    PublishBatch,
    Claim,
    Complete,
    CompleteMany,
    LockForFailure,
    LockExpired,
    Settle,
    Replay,
    DeadLetterState,
    Trace,
    FoldCounts,
    CurrentMetrics,
    WindowBaseline,
    TakeSample,
    PruneSamples,
    SnapshotsSince,
    SamplesBetween,
    CleanupMessages,
    CleanupDeadLetters,
    CleanupTraces,
    Purge,
    Grants,
    MessageTopics,
    RecordGrant,
    RemoveGrants,
    HeldCapabilities,
    ExtensionFunctionStatements,
    ExtensionSchemaUsage,
    QuoteIdent,
    ExtensionVersion,
}

impl Statement {
    /// The statement's text, without its trace lines when tracing is off (the hot statements
    /// have a leaner form of their own then).
    fn sql(self, trace: bool) -> String {
        match (self, trace) {
            (_, true) => self.text().to_owned(),
            (Statement::Publish, false) => lifecycle::PUBLISH_UNTRACED.to_owned(),
            (Statement::PublishBatch, false) => lifecycle::PUBLISH_BATCH_UNTRACED.to_owned(),
            (Statement::Claim, false) => lifecycle::CLAIM_UNTRACED.to_owned(),
            (_, false) => without_trace(self.text()),
        }
    }

    fn text(self) -> &'static str {
        use Statement::*;
        match self {
            Publish => lifecycle::PUBLISH,
            PublishBatch => lifecycle::PUBLISH_BATCH,
            Claim => lifecycle::CLAIM,
            Complete => lifecycle::COMPLETE,
            CompleteMany => lifecycle::COMPLETE_MANY,
            LockForFailure => lifecycle::LOCK_FOR_FAILURE,
            LockExpired => lifecycle::LOCK_EXPIRED,
            Settle => lifecycle::SETTLE,
            Replay => lifecycle::REPLAY,
            DeadLetterState => lifecycle::DEAD_LETTER_STATE,
            Trace => lifecycle::TRACE,
            FoldCounts => operations::FOLD_COUNTS,
            CurrentMetrics => operations::CURRENT_METRICS,
            WindowBaseline => operations::WINDOW_BASELINE,
            TakeSample => operations::TAKE_SAMPLE,
            PruneSamples => operations::PRUNE_SAMPLES,
            SnapshotsSince => operations::SNAPSHOTS_SINCE,
            SamplesBetween => operations::SAMPLES_BETWEEN,
            CleanupMessages => operations::CLEANUP_MESSAGES,
            CleanupDeadLetters => operations::CLEANUP_DEAD_LETTERS,
            CleanupTraces => operations::CLEANUP_TRACES,
            Purge => operations::PURGE,
            Grants => access::GRANTS,
            MessageTopics => access::MESSAGE_TOPICS,
            RecordGrant => access::RECORD_GRANT,
            RemoveGrants => access::REMOVE_GRANTS,
            HeldCapabilities => access::HELD_CAPABILITIES,
            ExtensionFunctionStatements => access::EXTENSION_FUNCTION_STATEMENTS,
            ExtensionSchemaUsage => access::EXTENSION_SCHEMA_USAGE,
            QuoteIdent => access::QUOTE_IDENT,
            ExtensionVersion => operations::EXTENSION_VERSION,
        }
    }

    fn arg_types(self) -> &'static [pg_sys::Oid] {
        use pg_sys::{
            INT4OID as INT4, INT8ARRAYOID as INT8_ARRAY, INT8OID as INT8, INTERVALOID as INTERVAL,
            JSONBARRAYOID as JSONB_ARRAY, JSONBOID as JSONB, OIDOID as OID,
            TEXTARRAYOID as TEXT_ARRAY, TEXTOID as TEXT, TIMESTAMPTZARRAYOID as TIMESTAMPTZ_ARRAY,
            TIMESTAMPTZOID as TIMESTAMPTZ, UUIDARRAYOID as UUID_ARRAY, UUIDOID as UUID,
        };
        use Statement::*;
        match self {
            Publish => &[
                TEXT,
                JSONB,
                JSONB,
                INT4,
                INT4,
                TIMESTAMPTZ,
                INTERVAL,
                UUID,
                TIMESTAMPTZ,
            ],
            PublishBatch => &[
                TEXT,
                JSONB_ARRAY,
                JSONB,
                INT4,
                INT4,
                TIMESTAMPTZ,
                TIMESTAMPTZ,
                UUID_ARRAY,
            ],
            Claim => &[TEXT, INT4, TEXT, INTERVAL, TIMESTAMPTZ],
            Complete => &[INT8, UUID, TIMESTAMPTZ],
            CompleteMany => &[INT8_ARRAY, TIMESTAMPTZ],
            LockForFailure => &[INT8_ARRAY, UUID],
            LockExpired => &[TEXT, TIMESTAMPTZ, INT4],
            Settle => &[INT8_ARRAY, TIMESTAMPTZ_ARRAY, TEXT, TIMESTAMPTZ, TEXT],
            Replay => &[INT8_ARRAY, TIMESTAMPTZ],
            DeadLetterState => &[INT8],
            Trace => &[UUID],
            FoldCounts => &[TIMESTAMPTZ],
            CurrentMetrics => &[TIMESTAMPTZ, TEXT],
            WindowBaseline => &[TIMESTAMPTZ, TIMESTAMPTZ],
            TakeSample => &[TIMESTAMPTZ],
            PruneSamples => &[INT4],
            SnapshotsSince => &[TIMESTAMPTZ],
            SamplesBetween => &[TIMESTAMPTZ, TIMESTAMPTZ],
            CleanupMessages => &[TEXT, TIMESTAMPTZ, INT4],
            CleanupDeadLetters => &[TIMESTAMPTZ, INT4],
            CleanupTraces => &[TIMESTAMPTZ, INT4],
            Purge => &[TEXT, TIMESTAMPTZ],
            Grants => &[],
            MessageTopics => &[INT8_ARRAY],
            RecordGrant => &[OID, TEXT, TEXT],
            RemoveGrants => &[OID, TEXT, TEXT],
            HeldCapabilities => &[OID],
            ExtensionFunctionStatements => &[TEXT, TEXT_ARRAY, TEXT],
            ExtensionSchemaUsage => &[TEXT],
            QuoteIdent => &[TEXT],
            ExtensionVersion => &[],
        }
    }

    /// Runs the statement with `args` (in the order of `arg_types`), preparing it on first use
    /// in this backend, in the variant `pg_mq.trace` asks for.
    pub fn run(self, client: &mut SpiClient<'_>, args: &[DatumWithOid<'_>]) -> Rows {
        let trace = settings::TRACE.get();
        PLANS.with(|plans| {
            let mut plans = plans.borrow_mut();
            let plan = plans[self as usize * 2 + usize::from(trace)]
                .get_or_insert_with(|| Plan::prepare(client, &self.sql(trace), self.arg_types()));
            plan.execute(client, args)
        })
    }

    /// Runs a statement that returns one row of one non-NULL column.
    pub fn run_scalar<T: FromDatum>(
        self,
        client: &mut SpiClient<'_>,
        args: &[DatumWithOid<'_>],
    ) -> T {
        self.run(client, args).value(0, 0)
    }
}

thread_local! {
    /// Two plans per statement: without and with trace rows.
    static PLANS: RefCell<[Option<Plan>; 2 * STATEMENT_COUNT]> =
        const { RefCell::new([const { None }; 2 * STATEMENT_COUNT]) };
}

/// `sql` without the lines from `--trace{` to `--}trace`.
fn without_trace(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut skipping = false;
    for line in sql.lines() {
        match line.trim() {
            "--trace{" => skipping = true,
            "--}trace" => skipping = false,
            _ if !skipping => {
                out.push_str(line);
                out.push('\n');
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_lines_are_cut_out() {
        let sql = "WITH a AS (x)\n--trace{\n, t AS (y)\n--}trace\nSELECT 1";
        assert_eq!(without_trace(sql), "WITH a AS (x)\nSELECT 1\n");
        assert_eq!(without_trace("SELECT 1"), "SELECT 1\n");
    }

    #[test]
    fn every_statement_is_well_formed_both_ways() {
        for statement in ALL {
            let with = statement.sql(true);
            let without = statement.sql(false);
            assert_eq!(
                with.matches("--trace{").count(),
                with.matches("--}trace").count()
            );
            assert!(
                !without.contains("INSERT INTO mq.traces"),
                "{statement:?} still writes traces when tracing is off"
            );
        }
    }
}
