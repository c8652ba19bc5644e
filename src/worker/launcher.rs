//! The launcher: one per server, connected to no database. Every second (and whenever a backend
//! asks) it lists the databases and starts a worker (src/worker/mod.rs) in each that may have
//! pg_mq and has none: a database it has not looked at, one whose extension was just created,
//! one probed without pg_mq a while ago (`PROBE_AGAIN`), one whose worker stopped. When the
//! server has no background worker slot left (`max_worker_processes`), it says so once and
//! tries again later; meanwhile polls in that database recover and promote their own topic.

use std::collections::HashMap;
use std::time::Duration;

use pgrx::bgworkers::{BackgroundWorker, DynamicBackgroundWorker, SignalWakeFlags};
use pgrx::pg_sys;

use crate::pg::workers::{self, Want};
use crate::pg::xact;

/// How often the launcher lists the databases.
const TICK: Duration = Duration::from_secs(1);

/// After no worker slot was free, how long before the launcher tries that database again.
const SLOTS_AGAIN: Duration = Duration::from_secs(10);

/// The launcher's main loop (through `pg::pg_mq_launcher_main`).
pub fn main() -> ! {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    BackgroundWorker::connect_worker_to_spi_by_oid(None, None);
    pgrx::log!("pg_mq launcher started");
    let mut started: HashMap<pg_sys::Oid, DynamicBackgroundWorker> = HashMap::new();
    let mut out_of_slots = false;
    let mut wait = Duration::ZERO;
    while BackgroundWorker::wait_latch(Some(wait)) {
        if BackgroundWorker::sighup_received() {
            xact::reload_configuration();
        }
        wait = TICK;
        let Some(databases) =
            xact::in_transaction("listing the databases", workers::list_databases)
        else {
            continue;
        };
        started.retain(|_, worker| workers::worker_running(worker));
        let plan = workers::launcher_sync(&databases, |oid| started.contains_key(&oid));
        for (database, want) in plan {
            if want != Want::StartWorker {
                continue;
            }
            match workers::start_worker(&database) {
                Ok(worker) => {
                    workers::launcher_started(database.oid, true, Duration::ZERO);
                    started.insert(database.oid, worker);
                    out_of_slots = false;
                }
                Err(()) => {
                    workers::launcher_started(database.oid, false, SLOTS_AGAIN);
                    if !out_of_slots {
                        pgrx::warning!(
                            "pg_mq launcher: no background worker slot free for database \"{}\" (max_worker_processes); its polls recover and promote their own topic meanwhile",
                            database.name
                        );
                        out_of_slots = true;
                    }
                }
            }
        }
    }
    pgrx::log!("pg_mq launcher stopping");
    xact::exit(1)
}
