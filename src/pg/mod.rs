//! The PostgreSQL glue: everything that touches PostgreSQL's C API lives here, each unsafe
//! block with a `// SAFETY:` comment. The other rooms of the crate use these safe wrappers.

#![allow(unsafe_code)]

pub mod arrays;
pub mod catalog;
pub mod clock;
pub mod jsonb;
pub mod raise;
pub mod session;
pub mod settings;
pub mod spi;
pub mod statements;
pub mod wakeup;
pub mod workers;
pub mod xact;

/// Whether the library is being loaded through `shared_preload_libraries` (only then can it
/// ask for shared memory and register the background worker).
pub fn preloading() -> bool {
    // SAFETY: a plain read of a flag the postmaster sets while loading preload libraries.
    unsafe { pgrx::pg_sys::process_shared_preload_libraries_in_progress }
}

/// A database's background worker: the postmaster calls it by name in a new process, with the
/// database's OID as its argument.
#[pgrx::pg_guard]
#[no_mangle]
pub extern "C-unwind" fn pg_mq_worker_main(arg: pgrx::pg_sys::Datum) {
    let dboid = pgrx::pg_sys::Oid::from(u32::try_from(arg.value()).unwrap_or(0));
    crate::worker::main(dboid)
}

/// The launcher: the postmaster calls it by name in a new process.
#[pgrx::pg_guard]
#[no_mangle]
pub extern "C-unwind" fn pg_mq_launcher_main(_arg: pgrx::pg_sys::Datum) {
    crate::worker::launcher::main()
}
