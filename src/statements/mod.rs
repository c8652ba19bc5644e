//! Every SQL statement pg_mq runs, and the per-backend cache of their prepared plans.
//!
//! Each statement is prepared once per backend (SPI_prepare + SPI_keepplan) and reused; the
//! plan cache replans it by itself when the tables change. Each lifecycle statement is one
//! round trip: the state change, its dead letter, its counters and its trace rows are written
//! by data-modifying CTEs in the same statement. Trace rows are gated by a boolean parameter
//! (`pg_mq.trace`), so turning tracing off needs no second plan. Functions are qualified with
//! pg_catalog so that a caller's search_path cannot redirect them.

mod lifecycle;
mod operations;

use std::cell::RefCell;

use pgrx::datum::DatumWithOid;
use pgrx::pg_sys::{self, PgOid};
use pgrx::spi::{OwnedPreparedStatement, SpiClient, SpiTupleTable};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statement {
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
    ExtensionInstalled,
}

const STATEMENT_COUNT: usize = Statement::ExtensionInstalled as usize + 1;

impl Statement {
    fn sql(self) -> &'static str {
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
            ExtensionInstalled => operations::EXTENSION_INSTALLED,
        }
    }

    fn arg_types(self) -> &'static [pg_sys::Oid] {
        use pg_sys::{
            BOOLOID as BOOL, INT4OID as INT4, INT8ARRAYOID as INT8_ARRAY, INT8OID as INT8,
            INTERVALOID as INTERVAL, JSONBARRAYOID as JSONB_ARRAY, JSONBOID as JSONB,
            TEXTOID as TEXT, TIMESTAMPTZARRAYOID as TIMESTAMPTZ_ARRAY,
            TIMESTAMPTZOID as TIMESTAMPTZ, UUIDOID as UUID,
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
                BOOL,
            ],
            PublishBatch => &[
                TEXT,
                JSONB_ARRAY,
                JSONB,
                INT4,
                INT4,
                TIMESTAMPTZ,
                TIMESTAMPTZ,
                BOOL,
            ],
            Claim => &[TEXT, INT4, TEXT, INTERVAL, TIMESTAMPTZ, BOOL],
            Complete => &[INT8, UUID, TIMESTAMPTZ, BOOL],
            CompleteMany => &[INT8_ARRAY, TIMESTAMPTZ, BOOL],
            LockForFailure => &[INT8_ARRAY, UUID],
            LockExpired => &[TEXT, TIMESTAMPTZ, INT4],
            Settle => &[INT8_ARRAY, TIMESTAMPTZ_ARRAY, TEXT, TIMESTAMPTZ, TEXT, BOOL],
            Replay => &[INT8_ARRAY, TIMESTAMPTZ, BOOL],
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
            Purge => &[TEXT, TIMESTAMPTZ, BOOL],
            ExtensionInstalled => &[],
        }
    }

    /// Runs the statement with `args` (in the order of `arg_types`), preparing it on first use
    /// in this backend.
    pub fn run<'conn>(
        self,
        client: &mut SpiClient<'conn>,
        args: &[DatumWithOid<'_>],
    ) -> SpiTupleTable<'conn> {
        PLANS.with(|plans| {
            let mut plans = plans.borrow_mut();
            let slot = &mut plans[self as usize];
            if slot.is_none() {
                let types: Vec<PgOid> = self.arg_types().iter().map(|o| PgOid::from(*o)).collect();
                let plan = client
                    .prepare_mut(self.sql(), &types)
                    .unwrap_or_else(|e| panic!("pg_mq: preparing {self:?} failed: {e}"));
                *slot = Some(plan.keep());
            }
            let plan = slot.as_ref().expect("prepared above");
            client
                .update(plan, None, args)
                .unwrap_or_else(|e| panic!("pg_mq: running {self:?} failed: {e}"))
        })
    }

    /// Runs a statement that returns one row of one non-NULL column.
    pub fn run_scalar<'conn, T: pgrx::FromDatum + pgrx::IntoDatum>(
        self,
        client: &mut SpiClient<'conn>,
        args: &[DatumWithOid<'_>],
    ) -> T {
        self.run(client, args)
            .first()
            .get_one::<T>()
            .unwrap_or_else(|e| panic!("pg_mq: reading {self:?} failed: {e}"))
            .unwrap_or_else(|| panic!("pg_mq: {self:?} returned NULL"))
    }
}

thread_local! {
    static PLANS: RefCell<[Option<OwnedPreparedStatement>; STATEMENT_COUNT]> =
        const { RefCell::new([const { None }; STATEMENT_COUNT]) };
}
