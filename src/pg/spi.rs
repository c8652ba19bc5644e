//! A thin layer over SPI for pg_mq's own statements: plans prepared once per backend as
//! *generic* plans, executed with bound parameters, and result rows read in place by column
//! name.
//!
//! pgrx's prepared statements let PostgreSQL's plan cache choose custom plans, which replans
//! every call: for the claim statement that planning cost as much as running it. pg_mq's
//! statements are written so that their generic plans are the good ones (index scans bounded
//! by the primary key or the partial indexes), so they are prepared with
//! CURSOR_OPT_GENERIC_PLAN and never replanned unless the tables change.
//!
//! Lifetimes: [`Rows`] and the [`RawJsonb`] values read from them carry the lifetime `'conn`
//! of the `SpiClient` they came from, so safe code cannot keep them past `SPI_finish` (which
//! frees their memory); `RawJsonb::transfer` copies a value out.

use std::ffi::{CStr, CString};
use std::marker::PhantomData;
use std::ptr::NonNull;

use pgrx::datum::{DatumWithOid, Interval, TimestampWithTimeZone};
use pgrx::pg_sys;
use pgrx::spi::SpiClient;
use pgrx::{FromDatum, Uuid};

use crate::pg::jsonb::RawJsonb;

/// A kept SPI plan (lives until the backend exits).
pub struct Plan(NonNull<pg_sys::_SPI_plan>);

impl Plan {
    /// Prepares `sql` with parameter types `types` as a generic plan and keeps it. Its result
    /// columns must be `columns`, in that order (a statement whose SQL and declaration
    /// disagree fails here, on its first use in a backend, rather than misread a column).
    pub fn prepare(
        _client: &SpiClient<'_>,
        name: &str,
        sql: &str,
        types: &[pg_sys::Oid],
        columns: &[&str],
    ) -> Plan {
        let text = CString::new(sql).expect("statement text has no NUL");
        let mut types = types.to_vec();
        // SAFETY: inside an SPI connection (the client proves it); the plan is moved to a
        // long-lived context by SPI_keepplan before SPI_finish.
        let plan = unsafe {
            let plan = pg_sys::SPI_prepare_cursor(
                text.as_ptr(),
                types.len() as i32,
                types.as_mut_ptr(),
                pg_sys::CURSOR_OPT_GENERIC_PLAN as i32,
            );
            let plan = NonNull::new(plan).unwrap_or_else(|| {
                panic!(
                    "pg_mq: SPI_prepare_cursor of {name} failed: {}",
                    result_code(pg_sys::SPI_result)
                )
            });
            let status = pg_sys::SPI_keepplan(plan.as_ptr());
            assert_eq!(
                status,
                0,
                "pg_mq: SPI_keepplan failed: {}",
                result_code(status)
            );
            Plan(plan)
        };
        let found = plan.result_columns();
        assert_eq!(
            found, columns,
            "pg_mq: statement {name} returns columns {found:?}, its declaration says {columns:?}"
        );
        plan
    }

    /// The names of the plan's result columns (none for a statement without RETURNING).
    pub fn result_columns(&self) -> Vec<String> {
        // SAFETY: the plan is kept; its single plan source owns the result descriptor, whose
        // attributes are read in place and copied.
        unsafe {
            let sources = pg_sys::SPI_plan_get_plan_sources(self.0.as_ptr());
            if sources.is_null() || (*sources).length != 1 {
                return Vec::new();
            }
            let source = (*(*sources).elements)
                .ptr_value
                .cast::<pg_sys::CachedPlanSource>();
            let desc = (*source).resultDesc;
            if desc.is_null() {
                return Vec::new();
            }
            let attrs = (*desc).attrs.as_slice((*desc).natts as usize);
            attrs
                .iter()
                .map(|a| {
                    CStr::from_ptr(a.attname.data.as_ptr())
                        .to_string_lossy()
                        .into_owned()
                })
                .collect()
        }
    }

    /// The number of parameters the plan was prepared with.
    #[cfg(any(test, feature = "pg_test"))]
    pub fn arg_count(&self) -> usize {
        // SAFETY: a kept plan.
        usize::try_from(unsafe { pg_sys::SPI_getargcount(self.0.as_ptr()) }).unwrap_or(0)
    }

    /// Runs the plan (read-write, new snapshot in READ COMMITTED) and returns its rows, valid
    /// until the SPI connection ends.
    pub fn execute<'conn>(
        &self,
        _client: &mut SpiClient<'conn>,
        args: &[DatumWithOid<'_>],
        columns: &'static [&'static str],
    ) -> Rows<'conn> {
        let mut values: Vec<pg_sys::Datum> = Vec::with_capacity(args.len());
        let mut nulls: Vec<std::ffi::c_char> = Vec::with_capacity(args.len());
        for arg in args {
            match arg.datum() {
                Some(datum) => {
                    values.push(datum.sans_lifetime());
                    nulls.push(b' ' as std::ffi::c_char);
                }
                None => {
                    values.push(pg_sys::Datum::from(0));
                    nulls.push(b'n' as std::ffi::c_char);
                }
            }
        }
        // SAFETY: inside an SPI connection; the plan's argument count matches (a mismatch is
        // a programming error SPI reports as SPI_ERROR_PARAM). The GUC nest level is popped
        // here on success and by transaction abort on error.
        unsafe {
            // A generic plan is built once and kept until the tables change, possibly while a
            // table is still empty: discourage sequential scans while (re)planning, so the plan
            // stays an index plan when the table grows. That makes an unavoidable sequential
            // scan look enormous, which must not switch on JIT compilation (decided at planning
            // time, it costs far more than these statements). Only a call that will plan pays.
            let nest_level = (!self.is_ready()).then(|| {
                let level = pg_sys::NewGUCNestLevel();
                for (name, value) in [(c"enable_seqscan", c"off"), (c"jit", c"off")] {
                    pg_sys::set_config_option(
                        name.as_ptr(),
                        value.as_ptr(),
                        pg_sys::GucContext::PGC_USERSET,
                        pg_sys::GucSource::PGC_S_SESSION,
                        pg_sys::GucAction::GUC_ACTION_SAVE,
                        true,
                        0,
                        false,
                    );
                }
                level
            });
            pg_sys::SPI_tuptable = std::ptr::null_mut();
            let status = pg_sys::SPI_execute_plan(
                self.0.as_ptr(),
                values.as_mut_ptr(),
                nulls.as_ptr(),
                false,
                0,
            );
            if let Some(level) = nest_level {
                pg_sys::AtEOXact_GUC(true, level);
            }
            assert!(
                status >= 0,
                "pg_mq: SPI_execute_plan failed: {}",
                result_code(status)
            );
            Rows {
                table: pg_sys::SPI_tuptable,
                processed: usize::try_from(pg_sys::SPI_processed).unwrap_or(usize::MAX),
                columns,
                connection: PhantomData,
            }
        }
    }

    /// Whether the plan cache holds a valid generic plan, so executing will not plan.
    fn is_ready(&self) -> bool {
        // SAFETY: the plan is kept; its plancache list and sources live as long as it does.
        // Reading the validity flags is what the plan cache itself does before reusing a plan.
        unsafe {
            let sources = pg_sys::SPI_plan_get_plan_sources(self.0.as_ptr());
            if sources.is_null() || (*sources).length != 1 {
                return false;
            }
            let source = (*(*sources).elements)
                .ptr_value
                .cast::<pg_sys::CachedPlanSource>();
            (*source).is_valid && !(*source).gplan.is_null() && (*(*source).gplan).is_valid
        }
    }
}

fn result_code(code: i32) -> String {
    // SAFETY: SPI_result_code_string returns a static string for any code.
    unsafe { CStr::from_ptr(pg_sys::SPI_result_code_string(code)) }
        .to_string_lossy()
        .into_owned()
}

/// Values that [`Row::get`] copies out of SPI memory, so they may outlive the connection.
/// (jsonb values are read in place with [`Row::jsonb`] instead.)
pub trait Owned: FromDatum {}

impl Owned for bool {}
impl Owned for i32 {}
impl Owned for i64 {}
impl Owned for f64 {}
impl Owned for String {}
impl Owned for Uuid {}
impl Owned for TimestampWithTimeZone {}
impl Owned for Interval {}
impl Owned for pg_sys::Oid {}
impl Owned for Vec<String> {}
impl Owned for Vec<i64> {}

/// The result of one execution: rows returned (if any) and rows processed. Valid while the
/// SPI connection `'conn` is open.
pub struct Rows<'conn> {
    table: *mut pg_sys::SPITupleTable,
    processed: usize,
    columns: &'static [&'static str],
    connection: PhantomData<&'conn ()>,
}

impl<'conn> Rows<'conn> {
    /// Rows returned, or for a statement without RETURNING, rows processed.
    pub fn len(&self) -> usize {
        if self.table.is_null() {
            self.processed
        } else {
            // SAFETY: a tuple table SPI just filled, alive while the connection is.
            unsafe { (*self.table).numvals as usize }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows in order.
    pub fn iter(&self) -> impl Iterator<Item = Row<'_, 'conn>> {
        let n = if self.table.is_null() { 0 } else { self.len() };
        (0..n).map(move |index| Row { rows: self, index })
    }

    /// The first row, if any.
    pub fn first(&self) -> Option<Row<'_, 'conn>> {
        self.iter().next()
    }

    /// The only column of the first row, which must be there and not NULL.
    pub fn scalar<T: Owned>(&self) -> T {
        let row = self.first().expect("pg_mq: statement returned no row");
        row.value(self.columns.first().expect("statement has a column"))
    }

    fn column_index(&self, name: &str) -> usize {
        self.columns
            .iter()
            .position(|c| *c == name)
            .unwrap_or_else(|| panic!("pg_mq: no column {name:?} in {:?}", self.columns))
    }

    /// The raw datum of row `row`, column `column` (0-based), None when NULL.
    fn datum(&self, row: usize, column: usize) -> Option<pg_sys::Datum> {
        assert!(!self.table.is_null(), "statement returned no rows");
        assert!(row < self.len(), "row {row} out of range");
        let mut is_null = false;
        // SAFETY: row is in range; column numbers are 1-based for SPI_getbinval, which checks
        // them; the tuple table is alive while the connection is.
        let datum = unsafe {
            let tuple = *(*self.table).vals.add(row);
            pg_sys::SPI_getbinval(
                tuple,
                (*self.table).tupdesc,
                column as i32 + 1,
                &mut is_null,
            )
        };
        (!is_null).then_some(datum)
    }
}

/// One row of a result, read column by column by name.
#[derive(Clone, Copy)]
pub struct Row<'r, 'conn> {
    rows: &'r Rows<'conn>,
    index: usize,
}

impl<'conn> Row<'_, 'conn> {
    /// Column `name`, None when NULL.
    pub fn get<T: Owned>(&self, name: &str) -> Option<T> {
        let datum = self.rows.datum(self.index, self.rows.column_index(name))?;
        // SAFETY: the statement's declaration names the column's type (checked by the
        // statements pg_test); the datum is not NULL; `Owned` values are copied out.
        unsafe { T::from_datum(datum, false) }
    }

    /// Column `name`, which must not be NULL.
    pub fn value<T: Owned>(&self, name: &str) -> T {
        self.get(name)
            .unwrap_or_else(|| panic!("pg_mq: unexpected NULL in column {name:?}"))
    }

    /// jsonb column `name` in place (valid while the connection is), None when NULL.
    pub fn jsonb(&self, name: &str) -> Option<RawJsonb<'conn>> {
        let datum = self.rows.datum(self.index, self.rows.column_index(name))?;
        // SAFETY: a non-NULL jsonb datum of this connection's tuple table.
        Some(unsafe { RawJsonb::from_datum_in(datum) })
    }
}
