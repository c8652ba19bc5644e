//! Least privilege: `mq_grant` / `mq_revoke`, and the topic check of producer and consumer
//! calls.
//!
//! After CREATE EXTENSION no pg_mq function is executable by PUBLIC (sql/privileges.sql). The
//! queue functions run as their owner (SECURITY DEFINER, search_path pinned to pg_catalog), so
//! a role needs nothing but EXECUTE on the functions of its capability, which `mq_grant` gives
//! it and records in `mq.grants`. Grants limited to topics are enforced here, from a copy of
//! `mq.grants` each backend keeps until a trigger on the table invalidates it.

use std::ffi::CStr;

use pgrx::datum::DatumWithOid;
use pgrx::pg_sys;
use pgrx::prelude::*;

use mq_core::capabilities::{self, Capability, GrantRow, TopicAccess};
use mq_core::error::MqError;

use crate::pg::catalog::{self, cached_table};
use crate::pg::raise::{raise, OrRaise};
use crate::pg::session;
use crate::pg::statements::Statement;

/// Reads every row of `mq.grants`.
fn load_grants() -> Vec<GrantRow> {
    Spi::connect_mut(|client| {
        Statement::Grants
            .run(client, &[])
            .iter()
            .filter_map(|row| {
                let capability =
                    Capability::parse(Some(&row.value::<String>("capability"))).ok()?;
                Some(GrantRow {
                    role: row.value::<pg_sys::Oid>("role").to_u32(),
                    capability,
                    topic: row.get::<String>("topic"),
                })
            })
            .collect()
    })
}

cached_table!(mod grants: Vec<GrantRow> = c"grants", super::load_grants);

/// The topics the calling role may use `capability` on.
pub fn access(capability: Capability) -> TopicAccess {
    let caller = session::calling_role();
    if session::is_superuser_role(caller) {
        return TopicAccess::Any;
    }
    capabilities::topic_access(&grants::rows(), capability, |role| {
        session::has_privileges_of(caller, role.into())
    })
}

fn refuse(capability: Capability, topic: &str, access: TopicAccess) -> ! {
    let granted = match access {
        TopicAccess::Any => Vec::new(),
        TopicAccess::Only(topics) => topics,
    };
    raise(MqError::TopicNotGranted {
        verb: capability.verb(),
        capability: capability.name(),
        role: session::role_name(session::calling_role()),
        topic: topic.to_owned(),
        granted,
    })
}

/// Raises 42501 unless the calling role may use `capability` on `topic`.
pub fn check_topic(capability: Capability, topic: &str) {
    let access = access(capability);
    if !access.allows(topic) {
        refuse(capability, topic, access);
    }
}

/// Raises 42501 unless the calling role may use `capability` on the topics of the messages
/// `ids()` (an int8[]). Looks the topics up, and builds the array, only for roles limited to
/// some topics.
pub fn check_message_topics<'a>(capability: Capability, ids: impl FnOnce() -> DatumWithOid<'a>) {
    let access = access(capability);
    if access == TopicAccess::Any {
        return;
    }
    let topics: Vec<String> = Spi::connect_mut(|client| {
        Statement::MessageTopics
            .run(client, &[ids()])
            .iter()
            .map(|row| row.value::<String>("topic"))
            .collect()
    });
    if let Some(topic) = topics.iter().find(|t| !access.allows(t)) {
        refuse(capability, topic, access);
    }
}

/// The trigger on `mq.grants`: any change to the table makes every backend read it again.
#[pg_trigger(sql = false)]
fn mq_grants_changed<'a>(
    trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, PgTriggerError> {
    catalog::invalidate_at_commit(trigger.relid()?);
    Ok(None)
}

/// Runs each statement (GRANT / REVOKE text built by PostgreSQL's format()).
fn run_all(client: &mut pgrx::spi::SpiClient<'_>, statements: Vec<String>) {
    for statement in statements {
        client
            .update(statement.as_str(), None, &[])
            .unwrap_or_else(|e| panic!("pg_mq: {statement}: {e}"));
    }
}

/// The GRANT or REVOKE (`verb`, with `direction` TO or FROM) statements for `functions`.
fn function_statements(
    client: &mut pgrx::spi::SpiClient<'_>,
    verb: &str,
    direction: &str,
    functions: &[&str],
    role: &str,
) -> Vec<String> {
    let template = format!("{verb} EXECUTE ON FUNCTION %s {direction} %I");
    let functions: Vec<String> = functions.iter().map(|f| (*f).to_owned()).collect();
    Statement::ExtensionFunctionStatements
        .run(client, &[template.into(), functions.into(), role.into()])
        .iter()
        .map(|row| row.value::<String>("statement"))
        .collect()
}

/// Checks the caller and the arguments shared by `mq_grant` and `mq_revoke`.
fn arguments<'a>(
    function: &'static str,
    capability: Option<&str>,
    role: Option<&'a CStr>,
    topic: Option<&'a str>,
) -> (Capability, String, pg_sys::Oid, Option<&'a str>) {
    if !session::current_user_is_superuser() {
        raise(MqError::SuperuserRequired { function });
    }
    let capability = Capability::parse(capability).or_raise();
    let role = role
        .ok_or(MqError::NullArgument { argument: "role" })
        .or_raise();
    let role_name = role.to_string_lossy().into_owned();
    let Some(role_oid) = session::role_oid(&role_name) else {
        raise(MqError::UnknownRole {
            argument: "role",
            role: role_name,
        });
    };
    capabilities::check_grant_topic(capability, topic).or_raise();
    (capability, role_name, role_oid, topic)
}

/// Gives `role` a capability: EXECUTE on its functions (for admin also USAGE on schema mq and
/// SELECT on its tables), for every topic or, for producer and consumer, for `topic` only.
/// Records the grant in `mq.grants`. Superusers only. Declared in sql/privileges.sql (its
/// `role` argument is of type name).
#[pg_extern(sql = false)]
fn mq_grant(capability: Option<&str>, role: Option<&CStr>, topic: Option<&str>) {
    let (capability, role, role_oid, topic) = arguments("mq_grant", capability, role, topic);
    Spi::connect_mut(|client| {
        let added = Statement::RecordGrant.run(
            client,
            &[role_oid.into(), capability.name().into(), topic.into()],
        );
        if let Some(topic) = topic {
            // Granting on a topic registers it, like its first publish or poll.
            Statement::RegisterTopic.run(client, &[topic.into(), crate::pg::clock::now().into()]);
        }
        if added.is_empty() {
            pgrx::notice!(
                "role {role:?} already holds capability {}{}",
                capability.name(),
                topic.map_or_else(String::new, |t| format!(" for topic {t:?}"))
            );
        }
        let mut statements =
            function_statements(client, "GRANT", "TO", capability.functions(), &role);
        if capability.reads_tables() {
            statements.extend(schema_statements(client, "GRANT", "TO", &role));
        }
        statements.extend(
            Statement::ExtensionSchemaUsage
                .run(client, &[role.as_str().into()])
                .iter()
                .map(|row| row.value::<String>("statement")),
        );
        run_all(client, statements);
    });
}

/// GRANT / REVOKE of USAGE on schema mq and SELECT on its tables and views.
fn schema_statements(
    client: &mut pgrx::spi::SpiClient<'_>,
    verb: &str,
    direction: &str,
    role: &str,
) -> Vec<String> {
    let quoted: String = Statement::QuoteIdent.run_scalar(client, &[role.into()]);
    vec![
        format!("{verb} USAGE ON SCHEMA mq {direction} {quoted}"),
        format!("{verb} SELECT ON ALL TABLES IN SCHEMA mq {direction} {quoted}"),
    ]
}

/// Takes a capability away from `role`: for `topic`, that topic's grant; without, every grant
/// of the capability. Once the role holds no grant of it, EXECUTE on its functions is revoked
/// (except functions another capability the role holds also opens). Superusers only.
#[pg_extern(sql = false)]
fn mq_revoke(capability: Option<&str>, role: Option<&CStr>, topic: Option<&str>) {
    let (capability, role, role_oid, topic) = arguments("mq_revoke", capability, role, topic);
    Spi::connect_mut(|client| {
        let removed = Statement::RemoveGrants
            .run(
                client,
                &[role_oid.into(), capability.name().into(), topic.into()],
            )
            .len();
        if removed == 0 {
            pgrx::notice!(
                "role {role:?} held no grant of capability {}{}",
                capability.name(),
                topic.map_or_else(String::new, |t| format!(" for topic {t:?}"))
            );
        }
        let held: Vec<Capability> = Statement::HeldCapabilities
            .run(client, &[role_oid.into()])
            .iter()
            .filter_map(|row| Capability::parse(Some(&row.value::<String>("capability"))).ok())
            .collect();
        if held.contains(&capability) {
            // Grants of it for other topics remain.
            return;
        }
        let functions = capabilities::functions_to_revoke(capability, &held);
        let mut statements = function_statements(client, "REVOKE", "FROM", &functions, &role);
        if capability.reads_tables() {
            statements.extend(schema_statements(client, "REVOKE", "FROM", &role));
        }
        run_all(client, statements);
    });
}
