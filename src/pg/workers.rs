//! The glue of pg_mq's background workers: a registry in shared memory of the databases the
//! launcher knows, starting a database's worker, listing databases, and the utility hook that
//! keeps workers out of the way of DROP DATABASE and friends.
//!
//! One launcher runs per server (a static background worker, registered when the library is
//! preloaded). It lists the databases every second and starts a worker in each one that may
//! have pg_mq: the worker looks for the extension and either works there or says so in the
//! registry and exits, to be probed again later. A backend that creates the extension or uses
//! pg_mq in a database without a working worker asks the launcher for one at once. Everything
//! here exists only when pg_mq is preloaded.

use std::ffi::{c_char, CStr};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicPtr, AtomicU32, Ordering};
use std::time::Duration;

use pgrx::bgworkers::{
    BackgroundWorkerBuilder, BackgroundWorkerStatus, BgWorkerStartTime, DynamicBackgroundWorker,
};
use pgrx::pg_sys;
use pgrx::prelude::*;

/// How many databases the registry can follow (a database beyond that gets no worker, and its
/// polls recover and promote their own topic).
pub const SLOTS: usize = 256;

/// What the registry knows of a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum DbState {
    /// Not looked at yet: start a worker to find out.
    Unknown = 0,
    /// A worker was started and has not reported yet.
    Starting = 1,
    /// A worker works there.
    Working = 2,
    /// No pg_mq there (or not at this library's version): look again at `retry_at`.
    Absent = 3,
    /// No worker could be started (max_worker_processes): try again at `retry_at`.
    Unserved = 4,
    /// A statement needs the database without other sessions (DROP DATABASE, ...): no worker
    /// until `retry_at`.
    Held = 5,
    /// The worker stopped unexpectedly: start another at `retry_at`.
    Stopped = 6,
}

impl DbState {
    fn from_u32(value: u32) -> DbState {
        match value {
            1 => DbState::Starting,
            2 => DbState::Working,
            3 => DbState::Absent,
            4 => DbState::Unserved,
            5 => DbState::Held,
            6 => DbState::Stopped,
            _ => DbState::Unknown,
        }
    }
}

#[repr(C)]
struct Slot {
    /// The database, 0 when the slot is free.
    dboid: AtomicU32,
    state: AtomicU32,
    /// The worker's pid while one runs.
    pid: AtomicI32,
    /// When the launcher may start a worker again (microseconds since the Unix epoch).
    retry_at: AtomicI64,
    /// A backend asked for a worker now (the extension was created, or used without a worker).
    wanted: AtomicBool,
    /// The backend that last loaded rows into pg_mq's tables with COPY (a restore), 0 if none.
    restoring_pid: AtomicI32,
    /// When it did (microseconds since the Unix epoch).
    restored_at: AtomicI64,
}

#[repr(C)]
struct Registry {
    lock: *mut pg_sys::LWLock,
    launcher_latch: AtomicPtr<pg_sys::Latch>,
    slots: [Slot; SLOTS],
}

const TRANCHE: &CStr = c"pg_mq workers";

/// The registry in shared memory; null when pg_mq was not preloaded.
static mut REGISTRY: *mut Registry = ptr::null_mut();

fn registry() -> Option<&'static Registry> {
    // SAFETY: REGISTRY is set once at shared memory startup and never changes; the memory
    // lives as long as the server.
    unsafe { (*ptr::addr_of!(REGISTRY)).as_ref() }
}

static mut PREV_SHMEM_STARTUP_HOOK: pg_sys::shmem_startup_hook_type = None;
#[cfg(not(any(feature = "pg13", feature = "pg14")))]
static mut PREV_SHMEM_REQUEST_HOOK: pg_sys::shmem_request_hook_type = None;
static mut PREV_PROCESS_UTILITY: pg_sys::ProcessUtility_hook_type = None;

/// Asks for the registry's shared memory and its lock, and installs the utility hook; call
/// from `_PG_init` while preloading.
pub fn install() {
    // SAFETY: _PG_init runs once in the postmaster, single-threaded; every hook chains to the
    // one installed before it.
    unsafe {
        #[cfg(any(feature = "pg13", feature = "pg14"))]
        {
            pg_sys::RequestAddinShmemSpace(std::mem::size_of::<Registry>());
            pg_sys::RequestNamedLWLockTranche(TRANCHE.as_ptr(), 1);
        }
        #[cfg(not(any(feature = "pg13", feature = "pg14")))]
        {
            PREV_SHMEM_REQUEST_HOOK = pg_sys::shmem_request_hook;
            pg_sys::shmem_request_hook = Some(shmem_request);
        }
        PREV_SHMEM_STARTUP_HOOK = pg_sys::shmem_startup_hook;
        pg_sys::shmem_startup_hook = Some(shmem_startup);
        PREV_PROCESS_UTILITY = pg_sys::ProcessUtility_hook;
        pg_sys::ProcessUtility_hook = Some(process_utility);
    }
}

#[cfg(not(any(feature = "pg13", feature = "pg14")))]
#[pg_guard]
unsafe extern "C-unwind" fn shmem_request() {
    // SAFETY: called by the postmaster while shared memory is being sized, the only place a
    // named tranche may be requested (PostgreSQL 15 on).
    unsafe {
        if let Some(previous) = PREV_SHMEM_REQUEST_HOOK {
            previous();
        }
        pg_sys::RequestAddinShmemSpace(std::mem::size_of::<Registry>());
        pg_sys::RequestNamedLWLockTranche(TRANCHE.as_ptr(), 1);
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn shmem_startup() {
    // SAFETY: called at shared memory creation; AddinShmemInitLock serialises the set-up, and
    // an all-zero Registry is a valid empty one (free slots, null latch).
    unsafe {
        if let Some(previous) = PREV_SHMEM_STARTUP_HOOK {
            previous();
        }
        let init_lock = &raw mut (*pg_sys::MainLWLockArray.add(21)).lock; // AddinShmemInitLock
        pg_sys::LWLockAcquire(init_lock, pg_sys::LWLockMode::LW_EXCLUSIVE);
        let mut found = false;
        let base = pg_sys::ShmemInitStruct(
            c"pg_mq worker registry".as_ptr(),
            std::mem::size_of::<Registry>(),
            &mut found,
        )
        .cast::<Registry>();
        if !found {
            ptr::write_bytes(base, 0, 1);
            (*base).lock = &raw mut (*pg_sys::GetNamedLWLockTranche(TRANCHE.as_ptr())).lock;
        }
        REGISTRY = base;
        pg_sys::LWLockRelease(init_lock);
    }
}

/// Holds the registry's lock (shared or exclusive) while it lives.
struct Locked<'a>(&'a Registry);

impl<'a> Locked<'a> {
    fn new(registry: &'a Registry, exclusive: bool) -> Locked<'a> {
        let mode = if exclusive {
            pg_sys::LWLockMode::LW_EXCLUSIVE
        } else {
            pg_sys::LWLockMode::LW_SHARED
        };
        // SAFETY: the lock was allocated at shared memory startup; it is released on drop (and
        // by LWLockReleaseAll on an error, before the drop runs: hence the check there).
        unsafe { pg_sys::LWLockAcquire(registry.lock, mode) };
        Locked(registry)
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        // SAFETY: releases the lock taken in `new`, unless error cleanup already did.
        unsafe {
            if pg_sys::LWLockHeldByMe(self.0.lock) {
                pg_sys::LWLockRelease(self.0.lock);
            }
        }
    }
}

fn now_micros() -> i64 {
    crate::pg::clock::unix_micros(crate::pg::clock::now())
}

impl Registry {
    fn slot_of(&self, dboid: pg_sys::Oid) -> Option<&Slot> {
        let wanted = dboid.to_u32();
        self.slots
            .iter()
            .find(|s| s.dboid.load(Ordering::Acquire) == wanted)
    }

    /// The database's slot, allocated (Unknown) if it has none; None when all are taken.
    fn slot_for(&self, dboid: pg_sys::Oid) -> Option<&Slot> {
        let _locked = Locked::new(self, true);
        if let Some(slot) = self.slot_of(dboid) {
            return Some(slot);
        }
        let slot = self
            .slots
            .iter()
            .find(|s| s.dboid.load(Ordering::Acquire) == 0)?;
        slot.state.store(DbState::Unknown as u32, Ordering::Release);
        slot.pid.store(0, Ordering::Release);
        slot.retry_at.store(0, Ordering::Release);
        slot.wanted.store(false, Ordering::Release);
        slot.restoring_pid.store(0, Ordering::Release);
        slot.restored_at.store(0, Ordering::Release);
        slot.dboid.store(dboid.to_u32(), Ordering::Release);
        Some(slot)
    }

    fn wake_launcher(&self) {
        let latch = self.launcher_latch.load(Ordering::Acquire);
        if !latch.is_null() {
            // SAFETY: the launcher's own latch (in its PGPROC, in shared memory); setting a
            // latch of another process is what latches are for.
            unsafe { pg_sys::SetLatch(latch) };
        }
    }
}

// ---- for backends: is this database looked after? -------------------------------------------

/// Whether pg_mq was preloaded (its registry, and so its workers, exist).
pub fn preloaded() -> bool {
    registry().is_some()
}

/// Whether a background worker works in this backend's database now. Without it (pg_mq not
/// preloaded, no worker slot left, the worker not started yet), polls recover and promote their
/// own topic.
pub fn serves_this_database() -> bool {
    let Some(registry) = registry() else {
        return false;
    };
    // SAFETY: reads a backend global.
    let dboid = unsafe { pg_sys::MyDatabaseId };
    let served = registry.slot_of(dboid).is_some_and(|slot| {
        DbState::from_u32(slot.state.load(Ordering::Acquire)) == DbState::Working
            && slot.pid.load(Ordering::Acquire) != 0
    });
    if !served {
        ask_for_worker(registry, dboid);
    }
    served
}

/// Asks the launcher for a worker in `dboid` now.
fn ask_for_worker(registry: &Registry, dboid: pg_sys::Oid) {
    if let Some(slot) = registry.slot_of(dboid).or_else(|| registry.slot_for(dboid)) {
        let state = DbState::from_u32(slot.state.load(Ordering::Acquire));
        if state != DbState::Held && !slot.wanted.swap(true, Ordering::AcqRel) {
            registry.wake_launcher();
        }
    }
}

thread_local! {
    /// The current transaction created or updated pg_mq: ask for a worker when it commits.
    static WORKER_AT_COMMIT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static XACT_CALLBACK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// After CREATE EXTENSION pg_mq or ALTER EXTENSION pg_mq UPDATE (also in a restore): a worker
/// for this database when the transaction commits (a worker started before would not see the
/// extension yet).
fn extension_created() {
    if !XACT_CALLBACK.get() {
        // SAFETY: registers a plain function for the rest of this backend's life.
        unsafe { pg_sys::RegisterXactCallback(Some(at_transaction_end), ptr::null_mut()) };
        XACT_CALLBACK.set(true);
    }
    WORKER_AT_COMMIT.set(true);
}

#[pg_guard]
unsafe extern "C-unwind" fn at_transaction_end(
    event: pg_sys::XactEvent::Type,
    _arg: *mut std::ffi::c_void,
) {
    use pg_sys::XactEvent::*;
    match event {
        XACT_EVENT_COMMIT | XACT_EVENT_PARALLEL_COMMIT if WORKER_AT_COMMIT.replace(false) => {
            if let Some(registry) = registry() {
                // SAFETY: reads a backend global.
                ask_for_worker(registry, unsafe { pg_sys::MyDatabaseId });
            }
        }
        XACT_EVENT_ABORT | XACT_EVENT_PARALLEL_ABORT | XACT_EVENT_PREPARE => {
            WORKER_AT_COMMIT.set(false);
        }
        _ => {}
    }
}

// ---- restores: the worker keeps out of a database while rows are loaded into it -----------

/// The advisory lock (a class of pg_mq's own) that a worker's job transaction holds shared and
/// a restoring COPY takes exclusively.
const RESTORE_LOCK: (i32, i32) = (1_836_153, 0);

/// How long after a restore's last COPY the worker stays out, when the restoring session is
/// gone (a parallel pg_restore loads with several sessions).
const RESTORE_QUIET_MICROS: i64 = 5_000_000;

/// Before a COPY into a table of schema mq — what pg_restore and a plain dump's COPY
/// statements do: records this session as restoring the database, and waits for a job of
/// the worker that is running now. From then on the worker does nothing there until this
/// session has ended (and a few seconds have passed): a recovery or a fold between the
/// loading of two tables would write rows that collide with those loaded next.
fn restore_began() {
    let Some(registry) = registry() else { return };
    // SAFETY: reads backend globals.
    let (dboid, pid) = unsafe { (pg_sys::MyDatabaseId, pg_sys::MyProcPid) };
    if let Some(slot) = registry.slot_of(dboid).or_else(|| registry.slot_for(dboid)) {
        slot.restoring_pid.store(pid, Ordering::Release);
        slot.restored_at.store(now_micros(), Ordering::Release);
    }
    let (class, key) = RESTORE_LOCK;
    Spi::run(&format!(
        "SELECT pg_catalog.pg_advisory_xact_lock({class}, {key})"
    ))
    .unwrap_or_else(|e| panic!("pg_mq: waiting for the worker before a restore: {e}"));
}

/// For a database's worker: whether a restore is loading rows into `dboid` (its session is
/// still connected, or its last COPY was less than a few seconds ago).
pub fn restore_in_progress(dboid: pg_sys::Oid) -> bool {
    let Some(slot) = registry().and_then(|r| r.slot_of(dboid)) else {
        return false;
    };
    let pid = slot.restoring_pid.load(Ordering::Acquire);
    if pid == 0 {
        return false;
    }
    // SAFETY: looks the pid up in the proc array (under its own lock).
    let alive = unsafe { !pg_sys::BackendPidGetProc(pid).is_null() };
    let recent = now_micros() - slot.restored_at.load(Ordering::Acquire) < RESTORE_QUIET_MICROS;
    if alive || recent {
        return true;
    }
    slot.restoring_pid.store(0, Ordering::Release);
    false
}

/// For a database's worker, inside a job's transaction: whether it may work now — no restore
/// is loading rows into the database, and the job holds the restore lock (shared) until its
/// transaction ends, so a restore that begins meanwhile waits for the job.
pub fn may_work(dboid: pg_sys::Oid) -> bool {
    if restore_in_progress(dboid) {
        return false;
    }
    let (class, key) = RESTORE_LOCK;
    Spi::get_one::<bool>(&format!(
        "SELECT pg_catalog.pg_try_advisory_xact_lock_shared({class}, {key})"
    ))
    .ok()
    .flatten()
    .unwrap_or(false)
}

/// Whether the statement is COPY ... FROM into a table of schema mq.
///
/// # Safety
/// `node` is a valid parse tree node (or null).
unsafe fn copies_into_pg_mq(node: *mut pg_sys::Node) -> bool {
    // SAFETY: the tag is checked before the cast.
    unsafe {
        if !pgrx::is_a(node, pg_sys::NodeTag::T_CopyStmt) {
            return false;
        }
        let copy = &*node.cast::<pg_sys::CopyStmt>();
        copy.is_from
            && !copy.relation.is_null()
            && !(*copy.relation).schemaname.is_null()
            && CStr::from_ptr((*copy.relation).schemaname) == c"mq"
    }
}

// ---- for the launcher ---------------------------------------------------------------------

/// A database the launcher may serve.
#[derive(Debug, Clone)]
pub struct Database {
    pub oid: pg_sys::Oid,
    pub name: String,
}

/// The databases that accept connections and are not templates (a worker connected to a
/// template would make CREATE DATABASE from it fail). Call inside a transaction.
pub fn list_databases() -> Vec<Database> {
    // SAFETY: a catalog heap scan of the shared catalog pg_database inside a transaction, as
    // autovacuum's launcher does; each tuple's fixed part is copied before the next one is read.
    unsafe {
        let lockmode = pg_sys::AccessShareLock as pg_sys::LOCKMODE;
        let rel = pg_sys::table_open(pg_sys::DatabaseRelationId, lockmode);
        let scan = pg_sys::table_beginscan_catalog(rel, 0, ptr::null_mut());
        let mut out = Vec::new();
        loop {
            let tuple = pg_sys::heap_getnext(scan, pg_sys::ScanDirection::ForwardScanDirection);
            if tuple.is_null() {
                break;
            }
            let db = &*pg_sys::heap_tuple_get_struct::<pg_sys::FormData_pg_database>(tuple);
            // datconnlimit -2 marks a database whose DROP was interrupted.
            if db.datconnlimit == -2 || db.datistemplate || !db.datallowconn {
                continue;
            }
            out.push(Database {
                oid: db.oid,
                name: CStr::from_ptr(db.datname.data.as_ptr())
                    .to_string_lossy()
                    .into_owned(),
            });
        }
        pg_sys::table_endscan(scan);
        pg_sys::table_close(rel, lockmode);
        out
    }
}

/// What the launcher should do for a database now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    Nothing,
    StartWorker,
}

/// The launcher's view of the registry: publishes its latch, forgets databases that are gone,
/// adds new ones, and says which need a worker started (`running` tells whether the worker the
/// launcher started for a database still runs).
pub fn launcher_sync(
    databases: &[Database],
    running: impl Fn(pg_sys::Oid) -> bool,
) -> Vec<(Database, Want)> {
    let Some(registry) = registry() else {
        return Vec::new();
    };
    // SAFETY: MyProc is this process's PGPROC; its latch lives in shared memory.
    let latch = unsafe { &raw mut (*pg_sys::MyProc).procLatch };
    registry.launcher_latch.store(latch, Ordering::Release);
    {
        let _locked = Locked::new(registry, true);
        for slot in &registry.slots {
            let oid = slot.dboid.load(Ordering::Acquire);
            if oid != 0 && !databases.iter().any(|d| d.oid.to_u32() == oid) {
                slot.dboid.store(0, Ordering::Release);
            }
        }
    }
    let now = now_micros();
    databases
        .iter()
        .filter_map(|db| {
            let slot = registry.slot_for(db.oid)?;
            let state = DbState::from_u32(slot.state.load(Ordering::Acquire));
            let due = slot.retry_at.load(Ordering::Acquire) <= now;
            let wanted = slot.wanted.load(Ordering::Acquire);
            let alive = running(db.oid);
            if !alive && matches!(state, DbState::Starting | DbState::Working) {
                // It stopped without saying why: try again after a while.
                slot.state.store(DbState::Stopped as u32, Ordering::Release);
                slot.pid.store(0, Ordering::Release);
                slot.retry_at
                    .store(now + RESTART_DELAY_MICROS, Ordering::Release);
                return Some((db.clone(), Want::Nothing));
            }
            let start = !alive
                && match state {
                    DbState::Unknown => true,
                    DbState::Held => due,
                    DbState::Absent | DbState::Unserved | DbState::Stopped => due || wanted,
                    DbState::Starting | DbState::Working => false,
                };
            Some((
                db.clone(),
                if start {
                    Want::StartWorker
                } else {
                    Want::Nothing
                },
            ))
        })
        .collect()
}

/// How long after a worker stopped unexpectedly the launcher starts another.
const RESTART_DELAY_MICROS: i64 = 5_000_000;

/// Records that a worker was started for `dboid` (or could not be: `started` false).
pub fn launcher_started(dboid: pg_sys::Oid, started: bool, retry_in: Duration) {
    let Some(slot) = registry().and_then(|r| r.slot_of(dboid)) else {
        return;
    };
    slot.wanted.store(false, Ordering::Release);
    if started {
        slot.state
            .store(DbState::Starting as u32, Ordering::Release);
    } else {
        slot.state
            .store(DbState::Unserved as u32, Ordering::Release);
        let micros = i64::try_from(retry_in.as_micros()).unwrap_or(i64::MAX);
        slot.retry_at
            .store(now_micros().saturating_add(micros), Ordering::Release);
    }
}

/// Starts a worker for `database`; Err when no background worker slot is free.
pub fn start_worker(database: &Database) -> Result<DynamicBackgroundWorker, ()> {
    BackgroundWorkerBuilder::new(&format!("pg_mq worker {}", database.oid.to_u32()))
        .set_type(crate::worker::BACKEND_TYPE)
        .set_library("pg_mq")
        .set_function("pg_mq_worker_main")
        .enable_spi_access()
        .set_restart_time(None)
        .set_argument(Some(pg_sys::Datum::from(database.oid.to_u32())))
        .load_dynamic()
        .map_err(|_| ())
}

/// Whether a worker the launcher started still runs.
pub fn worker_running(worker: &DynamicBackgroundWorker) -> bool {
    !matches!(
        worker.pid(),
        Err(BackgroundWorkerStatus::Stopped) | Err(BackgroundWorkerStatus::PostmasterDied)
    )
}

/// Registers the launcher with the postmaster (only possible while preloading).
pub fn register_launcher() {
    BackgroundWorkerBuilder::new("pg_mq launcher")
        .set_type("pg_mq launcher")
        .set_library("pg_mq")
        .set_function("pg_mq_launcher_main")
        // A database connection flag also makes SIGUSR1 (worker started or stopped) set our
        // latch; the launcher itself connects to no database.
        .enable_spi_access()
        .set_start_time(BgWorkerStartTime::RecoveryFinished)
        .set_restart_time(Some(Duration::from_secs(5)))
        .load();
}

// ---- for a database's worker --------------------------------------------------------------

/// What a worker learns from the registry when it starts in `dboid`.
pub enum Registered {
    /// It is the database's worker.
    Alone,
    /// Another worker already works there (after a crash-restart, say): this one leaves.
    Duplicate,
}

/// Records this process as `dboid`'s worker.
pub fn worker_register(dboid: pg_sys::Oid) -> Registered {
    let Some(registry) = registry() else {
        return Registered::Alone;
    };
    let Some(slot) = registry.slot_for(dboid) else {
        return Registered::Alone;
    };
    // SAFETY: reads this process's pid.
    let me = unsafe { pg_sys::MyProcPid };
    let _locked = Locked::new(registry, true);
    let other = slot.pid.load(Ordering::Acquire);
    // SAFETY: BackendPidGetProc looks the pid up in the proc array under its own lock.
    if other != 0 && other != me && unsafe { !pg_sys::BackendPidGetProc(other).is_null() } {
        return Registered::Duplicate;
    }
    slot.pid.store(me, Ordering::Release);
    Registered::Alone
}

/// Records what the worker found: working, or leaving (the extension is absent, or a statement
/// holds the database) to be looked at again after `retry_in`.
pub fn worker_report(dboid: pg_sys::Oid, state: DbState, retry_in: Duration) {
    let Some(slot) = registry().and_then(|r| r.slot_of(dboid)) else {
        return;
    };
    if state != DbState::Working {
        slot.pid.store(0, Ordering::Release);
        let micros = i64::try_from(retry_in.as_micros()).unwrap_or(i64::MAX);
        slot.retry_at
            .store(now_micros().saturating_add(micros), Ordering::Release);
    }
    // A hold set by a utility statement stays until it is released.
    let _ = slot
        .state
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |current| {
            (DbState::from_u32(current) != DbState::Held).then_some(state as u32)
        });
}

/// Whether a statement holds this worker's database: the worker must leave at once.
pub fn worker_must_leave(dboid: pg_sys::Oid) -> bool {
    registry()
        .and_then(|r| r.slot_of(dboid))
        .is_some_and(|slot| DbState::from_u32(slot.state.load(Ordering::Acquire)) == DbState::Held)
}

// ---- the utility hook -----------------------------------------------------------------------

/// How long a held database gets no worker at most (the statement normally ends sooner, and
/// releases the hold).
const HOLD_MICROS: i64 = 120_000_000;

/// Keeps `dboid`'s worker away while it lives: the worker leaves at once, and the launcher
/// starts none until the hold ends.
struct Hold(pg_sys::Oid);

impl Hold {
    fn new(dboid: pg_sys::Oid) -> Option<Hold> {
        let registry = registry()?;
        let slot = registry.slot_of(dboid)?;
        slot.retry_at
            .store(now_micros() + HOLD_MICROS, Ordering::Release);
        slot.state.store(DbState::Held as u32, Ordering::Release);
        let pid = slot.pid.load(Ordering::Acquire);
        if pid != 0 {
            // SAFETY: looks the worker up in the proc array and sets its latch, in shared
            // memory; a worker that already left is simply not found.
            unsafe {
                let proc_ = pg_sys::BackendPidGetProc(pid);
                if !proc_.is_null() {
                    pg_sys::SetLatch(&raw mut (*proc_).procLatch);
                }
            }
        }
        Some(Hold(dboid))
    }
}

/// After a hold, how long the launcher waits before it looks at the database again: the
/// statement's transaction commits right after the statement (a dropped database is then gone).
const AFTER_HOLD_MICROS: i64 = 1_500_000;

impl Drop for Hold {
    fn drop(&mut self) {
        if let Some(slot) = registry().and_then(|r| r.slot_of(self.0)) {
            slot.retry_at
                .store(now_micros() + AFTER_HOLD_MICROS, Ordering::Release);
        }
    }
}

/// The name of the database a utility statement needs without other sessions, if any:
/// DROP DATABASE, the template of CREATE DATABASE, ALTER DATABASE ... RENAME and
/// ALTER DATABASE ... SET TABLESPACE.
///
/// # Safety
/// `node` is a valid parse tree node (or null).
unsafe fn database_needed_alone(node: *mut pg_sys::Node) -> Option<*const c_char> {
    // SAFETY: the node tags are checked before each cast; option lists are PostgreSQL Lists of
    // DefElem.
    unsafe {
        if pgrx::is_a(node, pg_sys::NodeTag::T_DropdbStmt) {
            return Some((*node.cast::<pg_sys::DropdbStmt>()).dbname);
        }
        if pgrx::is_a(node, pg_sys::NodeTag::T_RenameStmt) {
            let stmt = node.cast::<pg_sys::RenameStmt>();
            return ((*stmt).renameType == pg_sys::ObjectType::OBJECT_DATABASE)
                .then(|| (*stmt).subname.cast_const());
        }
        let (options, name) = if pgrx::is_a(node, pg_sys::NodeTag::T_CreatedbStmt) {
            ((*node.cast::<pg_sys::CreatedbStmt>()).options, None)
        } else if pgrx::is_a(node, pg_sys::NodeTag::T_AlterDatabaseStmt) {
            let stmt = node.cast::<pg_sys::AlterDatabaseStmt>();
            ((*stmt).options, Some((*stmt).dbname.cast_const()))
        } else {
            return None;
        };
        let wanted: &CStr = if name.is_some() {
            c"tablespace"
        } else {
            c"template"
        };
        let mut found = None;
        if !options.is_null() {
            for i in 0..usize::try_from((*options).length).unwrap_or(0) {
                let def = (*(*options).elements.add(i))
                    .ptr_value
                    .cast::<pg_sys::DefElem>();
                if CStr::from_ptr((*def).defname) == wanted {
                    found = Some(if (*def).arg.is_null() {
                        ptr::null()
                    } else {
                        pg_sys::defGetString(def).cast_const()
                    });
                }
            }
        }
        match (name, found) {
            // ALTER DATABASE d SET TABLESPACE t needs d alone.
            (Some(name), Some(_)) => Some(name),
            (Some(_), None) => None,
            // CREATE DATABASE ... TEMPLATE t (default template1) needs t alone.
            (None, Some(template)) if !template.is_null() => Some(template),
            (None, _) => Some(c"template1".as_ptr()),
        }
    }
}

/// Whether the statement is CREATE EXTENSION pg_mq or ALTER EXTENSION pg_mq UPDATE (after
/// either, the database wants a worker at once).
///
/// # Safety
/// `node` is a valid parse tree node (or null).
unsafe fn creates_pg_mq(node: *mut pg_sys::Node) -> bool {
    // SAFETY: the tags are checked before the casts.
    unsafe {
        let name = if pgrx::is_a(node, pg_sys::NodeTag::T_CreateExtensionStmt) {
            (*node.cast::<pg_sys::CreateExtensionStmt>()).extname
        } else if pgrx::is_a(node, pg_sys::NodeTag::T_AlterExtensionStmt) {
            (*node.cast::<pg_sys::AlterExtensionStmt>()).extname
        } else {
            return false;
        };
        !name.is_null() && CStr::from_ptr(name) == c"pg_mq"
    }
}

#[pg_guard]
#[allow(clippy::too_many_arguments)]
unsafe extern "C-unwind" fn process_utility(
    pstmt: *mut pg_sys::PlannedStmt,
    query_string: *const c_char,
    read_only_tree: bool,
    context: pg_sys::ProcessUtilityContext::Type,
    params: pg_sys::ParamListInfo,
    query_env: *mut pg_sys::QueryEnvironment,
    dest: *mut pg_sys::DestReceiver,
    qc: *mut pg_sys::QueryCompletion,
) {
    // SAFETY: the hook only reads the statement's tree; the previous hook (or the standard
    // function) is called with the arguments unchanged. The Hold guard is dropped when the
    // statement ends, also by an ERROR (pgrx turns it into an unwind through this frame).
    unsafe {
        let node = (*pstmt).utilityStmt;
        let _hold = database_needed_alone(node)
            .filter(|name| !name.is_null())
            .map(|name| pg_sys::get_database_oid(name, true))
            .filter(|oid| *oid != pg_sys::InvalidOid)
            .and_then(Hold::new);
        let creates = creates_pg_mq(node);
        if copies_into_pg_mq(node) {
            restore_began();
        }
        if let Some(previous) = PREV_PROCESS_UTILITY {
            pg_sys::ffi::pg_guard_ffi_boundary(|| {
                previous(
                    pstmt,
                    query_string,
                    read_only_tree,
                    context,
                    params,
                    query_env,
                    dest,
                    qc,
                )
            });
        } else {
            pg_sys::standard_ProcessUtility(
                pstmt,
                query_string,
                read_only_tree,
                context,
                params,
                query_env,
                dest,
                qc,
            );
        }
        if creates {
            extension_created();
        }
    }
}
