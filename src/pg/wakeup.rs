//! Long-poll wake-ups: a poller waiting for messages sleeps on a condition variable in shared
//! memory and is woken when a transaction that made messages of its topic available commits.
//!
//! Topics hash onto a fixed set of slots; each slot has a generation counter and a condition
//! variable. A backend that publishes (or replays, or recovers) notes the slot of the topic;
//! when its transaction commits — after the rows are visible — an xact callback bumps the
//! slot's generation and broadcasts. A poller reads the generation before it claims, and if it
//! found nothing, goes to sleep only if the generation is unchanged, so no commit can slip
//! between its claim and its sleep.
//!
//! Shared memory exists only when pg_mq is in shared_preload_libraries; otherwise pollers fall
//! back to short sleeps on their latch.

use std::cell::Cell;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pgrx::pg_sys;
use pgrx::prelude::*;

/// Number of wake-up slots. Topics sharing a slot wake each other's pollers, which then find
/// nothing and sleep again.
const SLOTS: usize = 256;

/// Without shared memory a waiting poller looks again this often.
const FALLBACK_NAP: Duration = Duration::from_millis(50);

#[repr(C)]
struct Slot {
    cv: pg_sys::ConditionVariable,
    generation: AtomicU64,
}

/// The slot array in shared memory; null when pg_mq was not preloaded.
static mut SHARED: *mut Slot = ptr::null_mut();

/// Which slot a topic of this backend's database wakes.
pub fn slot_of(topic: &str) -> usize {
    // SAFETY: reads a backend global.
    let database = unsafe { pg_sys::MyDatabaseId }.to_u32();
    mq_core::hashing::slot(database, topic, SLOTS)
}

fn shared_slot(index: usize) -> Option<*mut Slot> {
    // SAFETY: SHARED is set once at shared memory startup (before any backend runs) and
    // never changes afterwards; index is below SLOTS.
    unsafe {
        let base = *ptr::addr_of!(SHARED);
        (!base.is_null()).then(|| base.add(index))
    }
}

// ---- shared memory set-up (only while preloading) ----

static mut PREV_SHMEM_STARTUP_HOOK: pg_sys::shmem_startup_hook_type = None;
#[cfg(not(any(feature = "pg13", feature = "pg14")))]
static mut PREV_SHMEM_REQUEST_HOOK: pg_sys::shmem_request_hook_type = None;

fn shmem_size() -> usize {
    std::mem::size_of::<Slot>() * SLOTS
}

/// Asks for the slots' shared memory; call from `_PG_init` while preloading.
pub fn request_shared_memory() {
    // SAFETY: _PG_init runs once in the postmaster, single-threaded; the hooks chain to
    // whatever was installed before.
    unsafe {
        #[cfg(any(feature = "pg13", feature = "pg14"))]
        pg_sys::RequestAddinShmemSpace(shmem_size());
        #[cfg(not(any(feature = "pg13", feature = "pg14")))]
        {
            PREV_SHMEM_REQUEST_HOOK = pg_sys::shmem_request_hook;
            pg_sys::shmem_request_hook = Some(shmem_request);
        }
        PREV_SHMEM_STARTUP_HOOK = pg_sys::shmem_startup_hook;
        pg_sys::shmem_startup_hook = Some(shmem_startup);
    }
}

#[cfg(not(any(feature = "pg13", feature = "pg14")))]
#[pg_guard]
unsafe extern "C-unwind" fn shmem_request() {
    // SAFETY: called by the postmaster while shared memory is being sized.
    unsafe {
        if let Some(previous) = PREV_SHMEM_REQUEST_HOOK {
            previous();
        }
        pg_sys::RequestAddinShmemSpace(shmem_size());
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn shmem_startup() {
    // SAFETY: called by the postmaster (and EXEC_BACKEND children) at shared memory
    // creation; AddinShmemInitLock serialises the initialisation.
    unsafe {
        if let Some(previous) = PREV_SHMEM_STARTUP_HOOK {
            previous();
        }
        let lock = &raw mut (*pg_sys::MainLWLockArray.add(21)).lock; // AddinShmemInitLock
        pg_sys::LWLockAcquire(lock, pg_sys::LWLockMode::LW_EXCLUSIVE);
        let mut found = false;
        let base = pg_sys::ShmemInitStruct(c"pg_mq wakeups".as_ptr(), shmem_size(), &mut found)
            .cast::<Slot>();
        if !found {
            for i in 0..SLOTS {
                let slot = base.add(i);
                pg_sys::ConditionVariableInit(&raw mut (*slot).cv);
                ptr::write(&raw mut (*slot).generation, AtomicU64::new(0));
            }
        }
        SHARED = base;
        pg_sys::LWLockRelease(lock);
    }
}

// ---- publishers ----

thread_local! {
    /// Slots whose topics this transaction made messages available in (a bit per slot).
    static TOUCHED: Cell<[u64; SLOTS / 64]> = const { Cell::new([0; SLOTS / 64]) };
    static CALLBACK_REGISTERED: Cell<bool> = const { Cell::new(false) };
}

/// Notes that the current transaction makes messages of `topic` available; its pollers are
/// woken when the transaction commits.
pub fn notify_on_commit(topic: &str) {
    if shared_slot(0).is_none() {
        return;
    }
    if !CALLBACK_REGISTERED.get() {
        // SAFETY: registers a plain function for the rest of this backend's life.
        unsafe { pg_sys::RegisterXactCallback(Some(on_xact_event), ptr::null_mut()) };
        CALLBACK_REGISTERED.set(true);
    }
    let slot = slot_of(topic);
    let mut touched = TOUCHED.get();
    touched[slot / 64] |= 1 << (slot % 64);
    TOUCHED.set(touched);
}

/// The wake-up key of a consumer group's deliveries of `topic`, or (None) of any of its
/// topics. `|` cannot appear in a topic or group name, so keys never collide with topics.
pub fn group_key(group: &str, topic: Option<&str>) -> String {
    format!("{group}|{}", topic.unwrap_or(""))
}

/// Notes that the current transaction makes deliveries of `topic` available: point-to-point
/// ones (`group` None) or a consumer group's. Their pollers are woken at commit.
pub fn notify_delivery_on_commit(topic: &str, group: Option<&str>) {
    match group {
        None => notify_on_commit(topic),
        Some(group) => {
            notify_on_commit(&group_key(group, Some(topic)));
            notify_on_commit(&group_key(group, None));
        }
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn on_xact_event(
    event: pg_sys::XactEvent::Type,
    _arg: *mut std::ffi::c_void,
) {
    use pg_sys::XactEvent::*;
    let wake = match event {
        XACT_EVENT_COMMIT | XACT_EVENT_PARALLEL_COMMIT => true,
        // A prepared transaction commits elsewhere, later: its pollers find its messages at
        // their next periodic look.
        XACT_EVENT_ABORT | XACT_EVENT_PARALLEL_ABORT | XACT_EVENT_PREPARE => false,
        _ => return,
    };
    let touched = TOUCHED.replace([0; SLOTS / 64]);
    if !wake {
        return;
    }
    for (word_index, word) in touched.iter().enumerate() {
        let mut bits = *word;
        while bits != 0 {
            let bit = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            if let Some(slot) = shared_slot(word_index * 64 + bit) {
                // SAFETY: slot points into initialised shared memory; broadcasting never errors.
                unsafe {
                    (*slot).generation.fetch_add(1, Ordering::SeqCst);
                    pg_sys::ConditionVariableBroadcast(&raw mut (*slot).cv);
                }
            }
        }
    }
}

// ---- pollers ----

/// A poller's view of a topic's wake-ups.
pub struct Waiter {
    slot: Option<*mut Slot>,
    seen: u64,
}

impl Waiter {
    /// Call before claiming: a commit after this moment wakes the next `sleep`.
    pub fn new(topic: &str) -> Waiter {
        let slot = shared_slot(slot_of(topic));
        // SAFETY: slot points into initialised shared memory.
        let seen = slot.map_or(0, |s| unsafe { (*s).generation.load(Ordering::SeqCst) });
        Waiter { slot, seen }
    }

    /// Sleeps until a commit makes messages of the topic available (or of a topic sharing its
    /// slot), or `timeout` passes. Returns at once if such a commit happened since `new` or
    /// the last `sleep`. Query cancel, statement_timeout and termination interrupt it.
    pub fn sleep(&mut self, timeout: Duration) {
        let millis = i64::try_from(timeout.as_millis())
            .unwrap_or(i64::MAX)
            .max(1);
        match self.slot {
            Some(slot) => {
                // SAFETY: the prepare / check / sleep / cancel protocol of condition variables;
                // an ERROR raised while sleeping is cleaned up by transaction abort, which
                // cancels the sleep.
                unsafe {
                    let cv = &raw mut (*slot).cv;
                    pg_sys::ConditionVariablePrepareToSleep(cv);
                    let now = (*slot).generation.load(Ordering::SeqCst);
                    if now == self.seen {
                        pg_sys::ConditionVariableTimedSleep(cv, millis, pg_sys::PG_WAIT_EXTENSION);
                    }
                    // Returns bool from PostgreSQL 16 on; nothing to do with it here.
                    #[allow(clippy::let_unit_value)]
                    let _ = pg_sys::ConditionVariableCancelSleep();
                    self.seen = (*slot).generation.load(Ordering::SeqCst);
                }
            }
            None => {
                let nap = i64::try_from(FALLBACK_NAP.as_millis())
                    .unwrap_or(50)
                    .min(millis);
                // SAFETY: waiting on our own latch, as pg_sleep does.
                unsafe {
                    pg_sys::WaitLatch(
                        pg_sys::MyLatch,
                        (pg_sys::WL_LATCH_SET | pg_sys::WL_TIMEOUT | pg_sys::WL_EXIT_ON_PM_DEATH)
                            as i32,
                        nap as std::ffi::c_long,
                        pg_sys::PG_WAIT_EXTENSION,
                    );
                    pg_sys::ResetLatch(pg_sys::MyLatch);
                }
            }
        }
        pg_sys::check_for_interrupts!();
    }
}
