//! Per-backend copies of small pg_mq tables (grants, topics), read once and kept until the
//! table changes, so the hot path reads configuration without a query.
//!
//! Each cached table has a trigger that queues a relcache invalidation of the table at every
//! change (`mq.grants_changed()`, `mq.catalog_changed()`); PostgreSQL delivers it to every backend when
//! the change commits, and the callback registered here forgets that table's copy. A backend
//! processes invalidations whenever it takes a lock it did not hold, which every pg_mq call
//! does before it reads anything, so a call after the commit sees the change.
//!
//! A long-poll, which holds its locks while it waits, asks for invalidations itself
//! ([`accept_changes`]) before each look.
//!
//! Declare a cached table with [`cached_table!`]; read it with its `rows()`.

use std::cell::RefCell;
use std::ffi::CStr;
use std::rc::Rc;
use std::thread::LocalKey;

use pgrx::pg_sys;
use pgrx::prelude::*;

/// A copy of a table's rows (in whatever shape its loader builds), or none yet.
pub type Slot<C> = RefCell<Option<Rc<C>>>;

/// A cached table: its relation OID and how to forget its copy.
type Registration = (pg_sys::Oid, fn());

thread_local! {
    /// The tables whose copies this backend holds.
    static REGISTERED: RefCell<Vec<Registration>> = const { RefCell::new(Vec::new()) };
    static CALLBACK_REGISTERED: RefCell<bool> = const { RefCell::new(false) };
}

#[pg_guard]
unsafe extern "C-unwind" fn forget(_arg: pg_sys::Datum, relid: pg_sys::Oid) {
    let clear: Vec<fn()> = REGISTERED.with(|registered| {
        registered
            .borrow()
            .iter()
            .filter(|(oid, _)| relid == pg_sys::InvalidOid || relid == *oid)
            .map(|(_, clear)| *clear)
            .collect()
    });
    for clear in clear {
        clear();
    }
}

/// OID of `mq.<table>`, if it exists (a table may be missing in a database still at an older
/// pg_mq version).
pub fn relid(table: &CStr) -> Option<pg_sys::Oid> {
    // SAFETY: catalog lookups by name, missing_ok; no allocation survives the call.
    unsafe {
        let namespace = pg_sys::get_namespace_oid(c"mq".as_ptr(), true);
        if namespace == pg_sys::InvalidOid {
            return None;
        }
        let relid = pg_sys::get_relname_relid(table.as_ptr(), namespace);
        (relid != pg_sys::InvalidOid).then_some(relid)
    }
}

fn register(relid: pg_sys::Oid, clear: fn()) {
    CALLBACK_REGISTERED.with(|done| {
        if !*done.borrow() {
            // SAFETY: registers a callback for the rest of this backend's life.
            unsafe { pg_sys::CacheRegisterRelcacheCallback(Some(forget), pg_sys::Datum::from(0)) };
            *done.borrow_mut() = true;
        }
    });
    REGISTERED.with(|registered| {
        let mut registered = registered.borrow_mut();
        if !registered.iter().any(|(oid, _)| *oid == relid) {
            registered.push((relid, clear));
        }
    });
}

/// The rows of `mq.<table>`: this backend's copy, or (on first use, or after a change) the
/// rows `load` reads. Empty when the table does not exist.
pub fn rows<C: Default>(
    slot: &'static LocalKey<Slot<C>>,
    table: &CStr,
    load: fn() -> C,
    clear: fn(),
) -> Rc<C> {
    if let Some(rows) = slot.with(|s| s.borrow().clone()) {
        return rows;
    }
    let Some(relid) = relid(table) else {
        return Rc::new(C::default());
    };
    register(relid, clear);
    let rows = Rc::new(load());
    slot.with(|s| *s.borrow_mut() = Some(rows.clone()));
    rows
}

/// Locks `mq.<table>` in ROW EXCLUSIVE mode until the transaction ends (if it exists), as a
/// write to it would; invalidations sent by changes that committed meanwhile are processed on
/// the way, so its copy is current afterwards.
pub fn lock_row_exclusive(table: &CStr) {
    if let Some(relid) = relid(table) {
        // SAFETY: takes a table lock for the rest of the transaction, as any DML would; a lock
        // this transaction already holds is only counted again.
        unsafe { pg_sys::LockRelationOid(relid, pg_sys::RowExclusiveLock as pg_sys::LOCKMODE) };
    }
}

/// Processes the invalidations other sessions' commits sent since this transaction last did
/// (what PostgreSQL does by itself whenever it takes a new lock), so a cached table changed
/// meanwhile is read again.
pub fn accept_changes() {
    // SAFETY: called between statements of a transaction, where PostgreSQL itself accepts
    // invalidations; it only runs the registered callbacks.
    unsafe { pg_sys::AcceptInvalidationMessages() };
}

/// Declares a module `$module` holding this backend's copy of table `mq.$table`, with
/// `rows()` to read it; `$load` reads the rows (through SPI) into a `$row` (a Vec, a map...).
macro_rules! cached_table {
    ($vis:vis mod $module:ident: $row:ty = $table:literal, $load:path) => {
        $vis mod $module {
            use super::*;

            thread_local! {
                static SLOT: $crate::pg::catalog::Slot<$row> = const { std::cell::RefCell::new(None) };
            }

            fn clear() {
                SLOT.with(|s| *s.borrow_mut() = None);
            }

            /// The table's rows (this backend's copy).
            pub fn rows() -> std::rc::Rc<$row> {
                $crate::pg::catalog::rows(&SLOT, $table, $load, clear)
            }
        }
    };
}
pub(crate) use cached_table;

/// Makes every backend forget its copy of relation `relid` when the current transaction
/// commits (what the tables' change triggers call).
pub fn invalidate_at_commit(relid: pg_sys::Oid) {
    // SAFETY: queues a relcache invalidation, delivered to all backends at commit.
    unsafe { pg_sys::CacheInvalidateRelcacheByRelid(relid) };
}

/// The trigger of cached tables other than mq.grants (`mq.catalog_changed()`, on mq.topics):
/// any change makes every backend read the table again.
#[pg_trigger(sql = false)]
fn mq_catalog_changed<'a>(
    trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, PgTriggerError> {
    invalidate_at_commit(trigger.relid()?);
    Ok(None)
}
