//! Who may do what with pg_mq: the capabilities an administrator grants with `mq_grant`, the
//! SQL functions each one opens, and the rule for capabilities granted for particular topics.
//!
//! Pure Rust: the catalog work (GRANT, REVOKE, the cache of `mq.grants`) is in `privileges.rs`.

use crate::error::MqError;

/// A set of pg_mq functions granted together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    /// Publish messages.
    Producer,
    /// Poll, complete and fail messages.
    Consumer,
    /// Read metrics and queue depth (what a monitoring agent needs, nothing more).
    Monitor,
    /// Everything an operator does: replay, purge, cleanup, recovery, retention, traces,
    /// listings, metrics, and direct reads of the tables in schema `mq`.
    Admin,
}

const PRODUCER_FUNCTIONS: &[&str] = &["mq_publish", "mq_publish_batch"];
const CONSUMER_FUNCTIONS: &[&str] = &[
    "mq_poll",
    "mq_complete",
    "mq_complete_batch",
    "mq_fail",
    "mq_fail_batch",
    "mq_extend",
];
const MONITOR_FUNCTIONS: &[&str] = &[
    "mq_metrics",
    "mq_metrics_prometheus",
    "mq_dashboard",
    "mq_depth",
    "mq_topics",
    "mq_topic_config",
    "mq_subscriptions",
    "mq_blocked_keys",
    "mq_health",
    "mq_consumers",
];
const ADMIN_FUNCTIONS: &[&str] = &[
    "mq_metrics",
    "mq_metrics_prometheus",
    "mq_dashboard",
    "mq_depth",
    "mq_topics",
    "mq_topic_config",
    "mq_subscriptions",
    "mq_blocked_keys",
    "mq_health",
    "mq_consumers",
    "mq_metrics_sample",
    "mq_subscribe",
    "mq_unsubscribe",
    "mq_create_topic",
    "mq_alter_topic",
    "mq_drop_topic",
    "mq_pause",
    "mq_resume",
    "mq_replay",
    "mq_replay_batch",
    "mq_purge",
    "mq_cleanup",
    "mq_recover",
    "mq_promote",
    "mq_retention",
    "mq_trace",
    "mq_messages",
    "mq_dead_letters",
    "mq_traces",
    // Called by the view mq.queue_depth, which admins may read directly.
    "current_metrics",
    "oldest_pending_due",
    "histogram_sum",
    "histogram_add",
];

const CAPABILITY_HINT: &str = "The capabilities are producer, consumer, monitor and admin.";

impl Capability {
    pub const ALL: [Capability; 4] = [
        Capability::Producer,
        Capability::Consumer,
        Capability::Monitor,
        Capability::Admin,
    ];

    /// The capability named `value` (as `mq_grant` and `mq_revoke` take it).
    pub fn parse(value: Option<&str>) -> Result<Capability, MqError> {
        let value = value.ok_or(MqError::NullArgument {
            argument: "capability",
        })?;
        Capability::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(value.trim()))
            .ok_or_else(|| MqError::InvalidArgument {
                argument: "capability",
                reason: format!("must be producer, consumer, monitor or admin, got {value:?}"),
                hint: Some(CAPABILITY_HINT),
            })
    }

    pub fn name(self) -> &'static str {
        match self {
            Capability::Producer => "producer",
            Capability::Consumer => "consumer",
            Capability::Monitor => "monitor",
            Capability::Admin => "admin",
        }
    }

    /// The pg_mq functions (every overload of each name) this capability may execute.
    pub fn functions(self) -> &'static [&'static str] {
        match self {
            Capability::Producer => PRODUCER_FUNCTIONS,
            Capability::Consumer => CONSUMER_FUNCTIONS,
            Capability::Monitor => MONITOR_FUNCTIONS,
            Capability::Admin => ADMIN_FUNCTIONS,
        }
    }

    /// Whether a grant of this capability can be limited to one topic.
    pub fn can_be_limited_to_topics(self) -> bool {
        matches!(self, Capability::Producer | Capability::Consumer)
    }

    /// Whether this capability also reads the tables and views of schema `mq` directly.
    pub fn reads_tables(self) -> bool {
        self == Capability::Admin
    }

    /// What the capability lets its holder do to a topic, for error messages.
    pub fn verb(self) -> &'static str {
        match self {
            Capability::Producer => "publish to",
            Capability::Consumer => "consume from",
            Capability::Monitor => "monitor",
            Capability::Admin => "administer",
        }
    }
}

/// Checks the `topic` argument of `mq_grant` / `mq_revoke` against the capability.
pub fn check_grant_topic(capability: Capability, topic: Option<&str>) -> Result<(), MqError> {
    match topic {
        Some(_) if !capability.can_be_limited_to_topics() => Err(MqError::InvalidArgument {
            argument: "topic",
            reason: format!(
                "must be NULL for capability {}: only producer and consumer can be granted per topic",
                capability.name()
            ),
            hint: None,
        }),
        Some(topic) => crate::validation::topic(Some(topic)).map(|_| ()),
        None => Ok(()),
    }
}

/// The functions to revoke from a role that loses `capability` but keeps `still_held`: those
/// of `capability` that none of the others also opens (admin includes monitor's functions).
pub fn functions_to_revoke(capability: Capability, still_held: &[Capability]) -> Vec<&'static str> {
    capability
        .functions()
        .iter()
        .copied()
        .filter(|f| {
            !still_held
                .iter()
                .any(|held| *held != capability && held.functions().contains(f))
        })
        .collect()
}

/// One row of `mq.grants`: `role` (an OID) holds `capability`, for every topic or for `topic`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRow {
    pub role: u32,
    pub capability: Capability,
    pub topic: Option<String>,
}

/// The topics a caller may use a capability on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicAccess {
    /// Every topic (the usual case: no grant of the capability is limited to topics).
    Any,
    /// Only these (none, if the list is empty).
    Only(Vec<String>),
}

impl TopicAccess {
    pub fn allows(&self, topic: &str) -> bool {
        match self {
            TopicAccess::Any => true,
            TopicAccess::Only(topics) => topics.iter().any(|t| t == topic),
        }
    }
}

/// The topics on which a caller may use `capability`, given every row of `mq.grants` and
/// `holds(role)`: whether the caller has the privileges of `role` (is it or a member of it).
///
/// While no grant of the capability is limited to a topic, topics are not checked at all: the
/// EXECUTE privilege PostgreSQL checks is the whole story. Once one is, every caller needs a
/// grant of the capability for all topics or for the topic at hand, to it or to a role whose
/// privileges it has; a caller with neither (say, one given EXECUTE by hand) is refused, so a
/// role limited to some topics cannot escape through another role's session.
pub fn topic_access(
    rows: &[GrantRow],
    capability: Capability,
    holds: impl Fn(u32) -> bool,
) -> TopicAccess {
    let rows: Vec<&GrantRow> = rows.iter().filter(|r| r.capability == capability).collect();
    if rows.iter().all(|r| r.topic.is_none()) {
        return TopicAccess::Any;
    }
    let mut topics = Vec::new();
    for row in rows.into_iter().filter(|r| holds(r.role)) {
        match &row.topic {
            None => return TopicAccess::Any,
            Some(topic) => {
                if !topics.contains(topic) {
                    topics.push(topic.clone());
                }
            }
        }
    }
    topics.sort();
    TopicAccess::Only(topics)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::SqlState;

    fn row(role: u32, capability: Capability, topic: Option<&str>) -> GrantRow {
        GrantRow {
            role,
            capability,
            topic: topic.map(str::to_owned),
        }
    }

    #[test]
    fn parses_capabilities_by_name() {
        assert_eq!(
            Capability::parse(Some("producer")),
            Ok(Capability::Producer)
        );
        assert_eq!(
            Capability::parse(Some(" Consumer ")),
            Ok(Capability::Consumer)
        );
        assert_eq!(Capability::parse(Some("ADMIN")), Ok(Capability::Admin));
        assert_eq!(Capability::parse(Some("monitor")), Ok(Capability::Monitor));
        let bad = Capability::parse(Some("root")).unwrap_err();
        assert_eq!(bad.sqlstate(), SqlState::InvalidParameterValue);
        assert!(bad.to_string().starts_with("argument \"capability\""));
        assert_eq!(
            Capability::parse(None).unwrap_err().sqlstate(),
            SqlState::NullValueNotAllowed
        );
    }

    #[test]
    fn capabilities_do_not_share_functions_except_monitor_within_admin() {
        for a in Capability::ALL {
            for b in Capability::ALL {
                if a == b {
                    continue;
                }
                let shared: Vec<_> = a
                    .functions()
                    .iter()
                    .filter(|f| b.functions().contains(f))
                    .collect();
                let monitor_admin = matches!(
                    (a, b),
                    (Capability::Monitor, Capability::Admin)
                        | (Capability::Admin, Capability::Monitor)
                );
                if monitor_admin {
                    assert_eq!(shared.len(), MONITOR_FUNCTIONS.len());
                } else {
                    assert!(shared.is_empty(), "{a:?} and {b:?} share {shared:?}");
                }
            }
        }
    }

    #[test]
    fn only_producer_and_consumer_take_a_topic() {
        assert!(check_grant_topic(Capability::Producer, Some("orders")).is_ok());
        assert!(check_grant_topic(Capability::Consumer, None).is_ok());
        let admin = check_grant_topic(Capability::Admin, Some("orders")).unwrap_err();
        assert_eq!(admin.sqlstate(), SqlState::InvalidParameterValue);
        assert!(admin.to_string().starts_with("argument \"topic\""));
        let bad_topic = check_grant_topic(Capability::Producer, Some("a b")).unwrap_err();
        assert_eq!(bad_topic.sqlstate(), SqlState::InvalidParameterValue);
    }

    #[test]
    fn revoking_admin_keeps_monitor_functions_of_a_monitor() {
        let kept = functions_to_revoke(Capability::Admin, &[Capability::Monitor]);
        assert!(kept.contains(&"mq_replay"));
        assert!(!kept.contains(&"mq_metrics"));
        let all = functions_to_revoke(Capability::Admin, &[Capability::Producer]);
        assert_eq!(all, ADMIN_FUNCTIONS.to_vec());
        assert!(functions_to_revoke(Capability::Monitor, &[Capability::Admin]).is_empty());
    }

    #[test]
    fn without_topic_grants_every_topic_is_open() {
        let rows = vec![
            row(10, Capability::Producer, None),
            row(11, Capability::Consumer, Some("orders")),
        ];
        // Producer grants are not limited anywhere: not checked, whoever calls.
        assert_eq!(
            topic_access(&rows, Capability::Producer, |_| false),
            TopicAccess::Any
        );
        assert_eq!(
            topic_access(&[], Capability::Consumer, |_| false),
            TopicAccess::Any
        );
    }

    #[test]
    fn a_role_limited_to_topics_gets_those_only() {
        let rows = vec![
            row(10, Capability::Consumer, Some("orders")),
            row(10, Capability::Consumer, Some("emails")),
            row(11, Capability::Consumer, None),
            row(12, Capability::Producer, Some("orders")),
        ];
        let limited = topic_access(&rows, Capability::Consumer, |r| r == 10);
        assert_eq!(
            limited,
            TopicAccess::Only(vec!["emails".to_owned(), "orders".to_owned()])
        );
        assert!(limited.allows("orders"));
        assert!(!limited.allows("payments"));
        // A grant for all topics wins over limited ones.
        assert_eq!(
            topic_access(&rows, Capability::Consumer, |r| r == 10 || r == 11),
            TopicAccess::Any
        );
        // A caller with no grant at all is refused once grants are limited.
        assert_eq!(
            topic_access(&rows, Capability::Consumer, |_| false),
            TopicAccess::Only(vec![])
        );
        assert!(!TopicAccess::Only(vec![]).allows("orders"));
    }
}
