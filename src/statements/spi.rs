//! A thin layer over SPI for pg_mq's own statements: plans prepared once per backend as
//! *generic* plans, executed with bound parameters, and result rows read in place.
//!
//! pgrx's prepared statements let PostgreSQL's plan cache choose custom plans, which replans
//! every call: for the claim statement that planning cost as much as running it. pg_mq's
//! statements are written so that their generic plans are the good ones (index scans bounded
//! by the primary key or the partial indexes), so they are prepared with
//! CURSOR_OPT_GENERIC_PLAN and never replanned unless the tables change.

use std::ffi::CString;
use std::ptr::NonNull;

use pgrx::datum::DatumWithOid;
use pgrx::pg_sys;
use pgrx::spi::SpiClient;
use pgrx::FromDatum;

/// A kept SPI plan (lives until the backend exits).
pub struct Plan(NonNull<pg_sys::_SPI_plan>);

impl Plan {
    /// Prepares `sql` with parameter types `types` as a generic plan and keeps it.
    pub fn prepare(_client: &SpiClient<'_>, sql: &str, types: &[pg_sys::Oid]) -> Plan {
        let sql = CString::new(sql).expect("statement text has no NUL");
        let mut types = types.to_vec();
        // SAFETY: inside an SPI connection (the client proves it); the plan is moved to a
        // long-lived context by SPI_keepplan before SPI_finish.
        unsafe {
            let plan = pg_sys::SPI_prepare_cursor(
                sql.as_ptr(),
                types.len() as i32,
                types.as_mut_ptr(),
                pg_sys::CURSOR_OPT_GENERIC_PLAN as i32,
            );
            let plan = NonNull::new(plan).unwrap_or_else(|| {
                panic!(
                    "pg_mq: SPI_prepare_cursor failed: {}",
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
        }
    }

    /// Runs the plan (read-write, new snapshot in READ COMMITTED) and returns its rows, valid
    /// until the SPI connection ends.
    pub fn execute(&self, _client: &mut SpiClient<'_>, args: &[DatumWithOid<'_>]) -> Rows {
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
            }
        }
    }
}

impl Plan {
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
    unsafe { std::ffi::CStr::from_ptr(pg_sys::SPI_result_code_string(code)) }
        .to_string_lossy()
        .into_owned()
}

/// The result of one execution: rows returned (if any) and rows processed.
pub struct Rows {
    table: *mut pg_sys::SPITupleTable,
    processed: usize,
}

impl Rows {
    /// Rows returned, or for a statement without RETURNING, rows processed.
    pub fn len(&self) -> usize {
        if self.table.is_null() {
            self.processed
        } else {
            // SAFETY: a tuple table SPI just filled.
            unsafe { (*self.table).numvals as usize }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The raw datum of row `row`, column `column` (both 0-based), None when NULL.
    pub fn datum(&self, row: usize, column: usize) -> Option<pg_sys::Datum> {
        assert!(!self.table.is_null(), "statement returned no rows");
        assert!(row < self.len(), "row {row} out of range");
        let mut is_null = false;
        // SAFETY: row is in range; column numbers are 1-based for SPI_getbinval, and
        // SPI_getbinval checks the column number.
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

    /// Row `row`, column `column` (0-based) as `T`. Pass-by-reference values point into
    /// SPI memory and must not outlive the SPI connection (see `RawJsonb::transfer`).
    pub fn get<T: FromDatum>(&self, row: usize, column: usize) -> Option<T> {
        let datum = self.datum(row, column)?;
        // SAFETY: the caller names the column's type; the datum is not NULL.
        unsafe { T::from_datum(datum, false) }
    }

    /// Row `row`, column `column` (0-based), which must not be NULL.
    pub fn value<T: FromDatum>(&self, row: usize, column: usize) -> T {
        self.get(row, column)
            .unwrap_or_else(|| panic!("pg_mq: unexpected NULL in row {row}, column {column}"))
    }

    /// The rows' indexes, for iterating.
    pub fn indexes(&self) -> std::ops::Range<usize> {
        if self.table.is_null() {
            0..0
        } else {
            0..self.len()
        }
    }
}

/// One row of a result, for reading column by column (0-based).
#[derive(Clone, Copy)]
pub struct Row<'a> {
    rows: &'a Rows,
    index: usize,
}

impl Row<'_> {
    pub fn get<T: FromDatum>(&self, column: usize) -> Option<T> {
        self.rows.get(self.index, column)
    }

    pub fn value<T: FromDatum>(&self, column: usize) -> T {
        self.rows.value(self.index, column)
    }
}

impl Rows {
    /// The rows in order.
    pub fn iter(&self) -> impl Iterator<Item = Row<'_>> {
        self.indexes().map(move |index| Row { rows: self, index })
    }
}
