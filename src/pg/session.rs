//! The session a pg_mq call runs in: its backend, its role, and role lookups.

use std::ffi::{CStr, CString};

use pgrx::pg_sys;

/// This backend's process id.
pub fn backend_pid() -> i32 {
    // SAFETY: MyProcPid is set once at backend start and only read here.
    unsafe { pg_sys::MyProcPid }
}

/// The role a pg_mq call is made for: the session's current role (after SET ROLE). Inside a
/// SECURITY DEFINER function `current_user` is the function's owner; the outer user is who
/// called it from the session.
pub fn calling_role() -> pg_sys::Oid {
    // SAFETY: reads a backend global.
    unsafe { pg_sys::GetOuterUserId() }
}

/// Whether `role` is a superuser.
pub fn is_superuser_role(role: pg_sys::Oid) -> bool {
    // SAFETY: a catalog lookup, cached by PostgreSQL.
    unsafe { pg_sys::superuser_arg(role) }
}

/// Whether the current user (inside a function: its owner or the caller) is a superuser.
pub fn current_user_is_superuser() -> bool {
    // SAFETY: reads the current user's superuser flag (cached).
    unsafe { pg_sys::superuser() }
}

/// Whether `member` has the privileges of `role` (is it, or a member of it).
pub fn has_privileges_of(member: pg_sys::Oid, role: pg_sys::Oid) -> bool {
    // SAFETY: catalog lookups for role membership, cached by PostgreSQL.
    unsafe { pg_sys::has_privs_of_role(member, role) }
}

/// The name of `role` (its OID as text if it has none, e.g. after DROP ROLE).
pub fn role_name(role: pg_sys::Oid) -> String {
    // SAFETY: noerr lookup; the name is copied before the next catalog access.
    unsafe {
        let name = pg_sys::GetUserNameFromId(role, true);
        if name.is_null() {
            format!("{}", role.to_u32())
        } else {
            CStr::from_ptr(name).to_string_lossy().into_owned()
        }
    }
}

/// The OID of the role named `name`, if it exists.
pub fn role_oid(name: &str) -> Option<pg_sys::Oid> {
    let name = CString::new(name).ok()?;
    // SAFETY: catalog lookup by name, missing_ok.
    let oid = unsafe { pg_sys::get_role_oid(name.as_ptr(), true) };
    (oid != pg_sys::InvalidOid).then_some(oid)
}

// Not in pgrx's bindings (libpq/libpq.h); exported by the server since PostgreSQL 14.
unsafe extern "C-unwind" {
    fn pq_check_connection() -> bool;
}

/// Ends this backend with FATAL "connection to client lost" (aborting its transaction) if its
/// client has closed the connection: what `client_connection_check_interval` does, checked
/// here whatever that setting says. Does nothing outside a client backend.
pub fn exit_if_client_gone() {
    // SAFETY: MyProcPort and whereToSendOutput are backend globals; FeBeWaitSet, which
    // pq_check_connection uses, exists exactly in backends with a remote client. An ERROR
    // inside it is turned into a Rust panic by the guard. Setting the two flags is what the
    // server's own check does (tcop/postgres.c), and the interrupt check then raises FATAL.
    unsafe {
        if pg_sys::MyProcPort.is_null()
            || pg_sys::whereToSendOutput != pg_sys::CommandDest::DestRemote
        {
            return;
        }
        if !pg_sys::ffi::pg_guard_ffi_boundary(|| pq_check_connection()) {
            pg_sys::ClientConnectionLost = 1;
            pg_sys::InterruptPending = 1;
        }
    }
    pgrx::pg_sys::check_for_interrupts!();
}
