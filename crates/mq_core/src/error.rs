//! Every error a caller of pg_mq can provoke, with its SQLSTATE and message.
//!
//! Pure Rust: the pgrx glue in `raise.rs` turns an [`MqError`] into a PostgreSQL ERROR.
//! The README's SQLSTATE table is written from this file; keep the two in step.

use std::fmt;

/// The SQLSTATE classes pg_mq raises. All are standard PostgreSQL codes, so client
/// libraries recognise them without knowing pg_mq.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlState {
    /// 22004 `null_value_not_allowed`: a required argument is NULL.
    NullValueNotAllowed,
    /// 22023 `invalid_parameter_value`: an argument is outside what the function accepts.
    InvalidParameterValue,
    /// 54000 `program_limit_exceeded`: a payload or headers value is larger than
    /// `pg_mq.max_payload_size`.
    ProgramLimitExceeded,
    /// P0002 `no_data_found`: the dead letter to replay does not exist.
    NoDataFound,
    /// 55000 `object_not_in_prerequisite_state`: the dead letter was already replayed, or a
    /// function of an older release is called before the extension is updated.
    ObjectNotInPrerequisiteState,
    /// 42501 `insufficient_privilege`: the caller may not use this topic, or grant capabilities.
    InsufficientPrivilege,
    /// 42704 `undefined_object`: the role named does not exist, or the topic does not exist
    /// and `pg_mq.auto_create_topics` is off (or the function needs an existing topic).
    UndefinedObject,
    /// 53400 `configuration_limit_exceeded`: a publish would bring a topic above its
    /// `max_depth`.
    ConfigurationLimitExceeded,
    /// 55006 `object_in_use`: the topic to drop still has waiting or in-flight messages.
    ObjectInUse,
}

impl SqlState {
    /// The five-character code, as clients see it in `SQLSTATE`.
    pub fn code(self) -> &'static str {
        match self {
            SqlState::NullValueNotAllowed => "22004",
            SqlState::InvalidParameterValue => "22023",
            SqlState::ProgramLimitExceeded => "54000",
            SqlState::NoDataFound => "P0002",
            SqlState::ObjectNotInPrerequisiteState => "55000",
            SqlState::InsufficientPrivilege => "42501",
            SqlState::UndefinedObject => "42704",
            SqlState::ConfigurationLimitExceeded => "53400",
            SqlState::ObjectInUse => "55006",
        }
    }
}

/// An error a caller of pg_mq provoked. Each names the argument at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MqError {
    /// A required argument is NULL.
    NullArgument { argument: &'static str },
    /// An element (1-based) of a required array argument is NULL.
    NullElement {
        argument: &'static str,
        index: usize,
    },
    /// An argument has a value the function does not accept; `reason` completes
    /// the sentence `argument "<argument>" ...`.
    InvalidArgument {
        argument: &'static str,
        reason: String,
        hint: Option<&'static str>,
    },
    /// Two arguments were given that exclude each other.
    ConflictingArguments {
        first: &'static str,
        second: &'static str,
        hint: &'static str,
    },
    /// A JSON argument (`payload`, `headers`, or element `element`, 1-based, of `payloads`)
    /// exceeds `pg_mq.max_payload_size`.
    PayloadTooLarge {
        argument: &'static str,
        size: usize,
        limit: usize,
        element: Option<usize>,
    },
    /// `mq_replay` was given a dead letter id that does not exist.
    DeadLetterNotFound { id: i64 },
    /// `mq_replay` was given a dead letter that was already replayed.
    DeadLetterAlreadyReplayed { id: i64, message_id: Option<i64> },
    /// The caller holds `capability` (named by what it does, e.g. "publish to") for other
    /// topics only (`granted`, possibly none).
    TopicNotGranted {
        verb: &'static str,
        capability: &'static str,
        role: String,
        topic: String,
        granted: Vec<String>,
    },
    /// `function` may be called by superusers only.
    SuperuserRequired { function: &'static str },
    /// The role named by argument `argument` does not exist.
    UnknownRole {
        argument: &'static str,
        role: String,
    },
    /// A function of an older release was called after the library was updated and before
    /// `ALTER EXTENSION pg_mq UPDATE`.
    RemovedFunction {
        function: &'static str,
        replacement: &'static str,
    },
    /// The topic was never created and `pg_mq.auto_create_topics` is off, or a function that
    /// works on existing topics only (mq_alter_topic, mq_pause, ...) was given an unknown one.
    UnknownTopic {
        topic: String,
        auto_create_off: bool,
    },
    /// Publishing `adding` messages would bring `topic` (now `depth` messages waiting or in
    /// flight) above its `max_depth`.
    TopicFull {
        topic: String,
        depth: i64,
        max_depth: i64,
        adding: i64,
    },
    /// The topic to drop still holds `live` waiting or in-flight messages.
    TopicInUse { topic: String, live: i64 },
    /// No subscription names this consumer group.
    UnknownGroup { group: String },
}

impl MqError {
    pub fn invalid(argument: &'static str, reason: impl Into<String>) -> Self {
        MqError::InvalidArgument {
            argument,
            reason: reason.into(),
            hint: None,
        }
    }

    pub fn sqlstate(&self) -> SqlState {
        match self {
            MqError::NullArgument { .. } | MqError::NullElement { .. } => {
                SqlState::NullValueNotAllowed
            }
            MqError::InvalidArgument { .. } | MqError::ConflictingArguments { .. } => {
                SqlState::InvalidParameterValue
            }
            MqError::PayloadTooLarge { .. } => SqlState::ProgramLimitExceeded,
            MqError::DeadLetterNotFound { .. } => SqlState::NoDataFound,
            MqError::DeadLetterAlreadyReplayed { .. } | MqError::RemovedFunction { .. } => {
                SqlState::ObjectNotInPrerequisiteState
            }
            MqError::TopicNotGranted { .. } | MqError::SuperuserRequired { .. } => {
                SqlState::InsufficientPrivilege
            }
            MqError::UnknownRole { .. }
            | MqError::UnknownTopic { .. }
            | MqError::UnknownGroup { .. } => SqlState::UndefinedObject,
            MqError::TopicFull { .. } => SqlState::ConfigurationLimitExceeded,
            MqError::TopicInUse { .. } => SqlState::ObjectInUse,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            MqError::InvalidArgument { hint, .. } => hint.map(str::to_owned),
            MqError::ConflictingArguments { hint, .. } => Some((*hint).to_owned()),
            MqError::PayloadTooLarge { .. } => Some(
                "Store large documents in a table and publish their key, or raise pg_mq.max_payload_size."
                    .to_owned(),
            ),
            MqError::DeadLetterNotFound { .. } => {
                Some("List dead letters with: SELECT id, topic, replayed FROM mq.dead_letters;".to_owned())
            }
            MqError::DeadLetterAlreadyReplayed { .. } => Some(
                "A dead letter is replayed at most once; if the replayed message failed again, replay its new dead letter."
                    .to_owned(),
            ),
            MqError::TopicNotGranted {
                capability,
                role,
                topic,
                ..
            } => Some(format!(
                "A superuser can grant it with: SELECT mq_grant('{capability}', {}, {});",
                sql_literal(role),
                sql_literal(topic)
            )),
            MqError::SuperuserRequired { .. } => Some(
                "Capabilities are granted by a superuser; see the Security section of pg_mq's README."
                    .to_owned(),
            ),
            MqError::UnknownRole { .. } => Some("Create the role first: CREATE ROLE ...;".to_owned()),
            MqError::RemovedFunction { replacement, .. } => Some(format!(
                "Run ALTER EXTENSION pg_mq UPDATE, then call {replacement}."
            )),
            MqError::UnknownTopic {
                topic,
                auto_create_off: true,
            } => Some(format!(
                "pg_mq.auto_create_topics is off: create the topic first with SELECT mq_create_topic({});",
                sql_literal(topic)
            )),
            MqError::UnknownTopic { topic, .. } => Some(format!(
                "Create it with SELECT mq_create_topic({}); mq_topics() lists the topics.",
                sql_literal(topic)
            )),
            MqError::TopicFull { topic, .. } => Some(format!(
                "Consume or purge messages first, or raise the limit: SELECT mq_alter_topic({}, max_depth => ...);",
                sql_literal(topic)
            )),
            MqError::TopicInUse { topic, .. } => Some(format!(
                "Wait until its messages are consumed, or drop it with them: SELECT mq_drop_topic({}, force => true);",
                sql_literal(topic)
            )),
            MqError::UnknownGroup { group } => Some(format!(
                "Subscribe it first: SELECT mq_subscribe({}, 'some.topic.#'); mq_subscriptions() lists the groups.",
                sql_literal(group)
            )),
            MqError::NullArgument { .. } | MqError::NullElement { .. } => None,
        }
    }
}

impl fmt::Display for MqError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MqError::NullArgument { argument } => {
                write!(f, "argument \"{argument}\" must not be NULL")
            }
            MqError::InvalidArgument {
                argument, reason, ..
            } => write!(f, "argument \"{argument}\" {reason}"),
            MqError::ConflictingArguments { first, second, .. } => write!(
                f,
                "arguments \"{first}\" and \"{second}\" cannot both be given"
            ),
            MqError::NullElement { argument, index } => {
                write!(f, "argument \"{argument}\" must not contain NULL (element {index})")
            }
            MqError::PayloadTooLarge {
                argument,
                size,
                limit,
                element: None,
            } => write!(
                f,
                "argument \"{argument}\" is too large: {size} bytes, pg_mq.max_payload_size allows {limit}"
            ),
            MqError::PayloadTooLarge {
                argument,
                size,
                limit,
                element: Some(index),
            } => write!(
                f,
                "argument \"{argument}\" element {index} is too large: {size} bytes, pg_mq.max_payload_size allows {limit}"
            ),
            MqError::DeadLetterNotFound { id } => write!(
                f,
                "argument \"dead_letter_id\": dead letter {id} does not exist"
            ),
            MqError::DeadLetterAlreadyReplayed { id, message_id } => match message_id {
                Some(message_id) => write!(
                    f,
                    "argument \"dead_letter_id\": dead letter {id} was already replayed as message {message_id}"
                ),
                None => write!(
                    f,
                    "argument \"dead_letter_id\": dead letter {id} was already replayed"
                ),
            },
            MqError::TopicNotGranted {
                verb,
                role,
                topic,
                granted,
                ..
            } => {
                write!(f, "permission denied for topic {topic:?}: role {role:?} may {verb} ")?;
                if granted.is_empty() {
                    write!(f, "no topic")
                } else {
                    let list: Vec<String> = granted.iter().map(|t| format!("{t:?}")).collect();
                    let noun = if list.len() == 1 { "topic" } else { "topics" };
                    write!(f, "{noun} {} only", list.join(", "))
                }
            }
            MqError::SuperuserRequired { function } => {
                write!(f, "permission denied for {function}: only superusers may call it")
            }
            MqError::UnknownRole { argument, role } => {
                write!(f, "argument \"{argument}\": role {role:?} does not exist")
            }
            MqError::RemovedFunction { function, .. } => write!(
                f,
                "{function} belongs to an older release of pg_mq, and the extension in this database has not been updated to the installed library"
            ),
            MqError::UnknownTopic { topic, .. } => {
                write!(f, "argument \"topic\": topic {topic:?} does not exist")
            }
            MqError::TopicFull {
                topic,
                depth,
                max_depth,
                adding,
            } => write!(
                f,
                "topic {topic:?} is full: it holds {depth} waiting or in-flight messages, its max_depth is {max_depth}, and this publish adds {adding}"
            ),
            MqError::UnknownGroup { group } => write!(
                f,
                "argument \"consumer_group\": consumer group {group:?} has no subscription"
            ),
            MqError::TopicInUse { topic, live } => write!(
                f,
                "topic {topic:?} still holds {live} waiting or in-flight messages"
            ),
        }
    }
}

impl std::error::Error for MqError {}

/// `value` as a SQL string literal, for hints that show a statement to run.
fn sql_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_documented_ones() {
        assert_eq!(SqlState::NullValueNotAllowed.code(), "22004");
        assert_eq!(SqlState::InvalidParameterValue.code(), "22023");
        assert_eq!(SqlState::ProgramLimitExceeded.code(), "54000");
        assert_eq!(SqlState::NoDataFound.code(), "P0002");
        assert_eq!(SqlState::ObjectNotInPrerequisiteState.code(), "55000");
        assert_eq!(SqlState::InsufficientPrivilege.code(), "42501");
        assert_eq!(SqlState::UndefinedObject.code(), "42704");
    }

    #[test]
    fn topic_refusals_say_what_is_granted_and_how_to_grant_more() {
        let refused = MqError::TopicNotGranted {
            verb: "publish to",
            capability: "producer",
            role: "o'brien".to_owned(),
            topic: "payments".to_owned(),
            granted: vec!["emails".to_owned(), "orders".to_owned()],
        };
        assert_eq!(refused.sqlstate(), SqlState::InsufficientPrivilege);
        assert_eq!(
            refused.to_string(),
            "permission denied for topic \"payments\": role \"o'brien\" may publish to topics \"emails\", \"orders\" only"
        );
        assert_eq!(
            refused.hint().unwrap(),
            "A superuser can grant it with: SELECT mq_grant('producer', 'o''brien', 'payments');"
        );
        let none = MqError::TopicNotGranted {
            verb: "consume from",
            capability: "consumer",
            role: "app".to_owned(),
            topic: "x".to_owned(),
            granted: vec![],
        };
        assert!(none.to_string().ends_with("may consume from no topic"));
        assert_eq!(
            MqError::UnknownRole {
                argument: "role",
                role: "ghost".to_owned()
            }
            .sqlstate(),
            SqlState::UndefinedObject
        );
    }

    #[test]
    fn messages_name_the_argument() {
        let null = MqError::NullArgument { argument: "topic" };
        assert_eq!(null.to_string(), "argument \"topic\" must not be NULL");
        assert_eq!(null.sqlstate(), SqlState::NullValueNotAllowed);

        let both = MqError::ConflictingArguments {
            first: "execute_at",
            second: "delay",
            hint: "x",
        };
        assert!(both.to_string().contains("\"execute_at\""));
        assert!(both.to_string().contains("\"delay\""));
        assert_eq!(both.sqlstate(), SqlState::InvalidParameterValue);

        let big = MqError::PayloadTooLarge {
            argument: "payload",
            size: 10,
            limit: 5,
            element: None,
        };
        assert!(big.to_string().starts_with("argument \"payload\""));
        assert_eq!(big.sqlstate(), SqlState::ProgramLimitExceeded);
        let big_element = MqError::PayloadTooLarge {
            argument: "payloads",
            size: 10,
            limit: 5,
            element: Some(3),
        };
        assert!(big_element.to_string().contains("\"payloads\" element 3"));

        let hole = MqError::NullElement {
            argument: "payloads",
            index: 2,
        };
        assert_eq!(
            hole.to_string(),
            "argument \"payloads\" must not contain NULL (element 2)"
        );
        assert_eq!(hole.sqlstate(), SqlState::NullValueNotAllowed);

        let replayed = MqError::DeadLetterAlreadyReplayed {
            id: 7,
            message_id: Some(9),
        };
        assert!(replayed.to_string().contains("dead letter 7"));
        assert!(replayed.to_string().contains("message 9"));
        assert_eq!(replayed.sqlstate(), SqlState::ObjectNotInPrerequisiteState);
        assert_eq!(
            MqError::DeadLetterNotFound { id: 3 }.sqlstate(),
            SqlState::NoDataFound
        );
    }
}
