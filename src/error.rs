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
    /// 54000 `program_limit_exceeded`: the payload is larger than `pg_mq.max_payload_size`.
    ProgramLimitExceeded,
    /// P0002 `no_data_found`: the dead letter to replay does not exist.
    NoDataFound,
    /// 55000 `object_not_in_prerequisite_state`: the dead letter was already replayed.
    ObjectNotInPrerequisiteState,
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
    /// The payload (or element `element`, 1-based, of `payloads`) exceeds
    /// `pg_mq.max_payload_size`.
    PayloadTooLarge {
        size: usize,
        limit: usize,
        element: Option<usize>,
    },
    /// `mq_replay` was given a dead letter id that does not exist.
    DeadLetterNotFound { id: i64 },
    /// `mq_replay` was given a dead letter that was already replayed.
    DeadLetterAlreadyReplayed { id: i64, message_id: Option<i64> },
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
            MqError::DeadLetterAlreadyReplayed { .. } => SqlState::ObjectNotInPrerequisiteState,
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
                size,
                limit,
                element: None,
            } => write!(
                f,
                "argument \"payload\" is too large: {size} bytes, pg_mq.max_payload_size allows {limit}"
            ),
            MqError::PayloadTooLarge {
                size,
                limit,
                element: Some(index),
            } => write!(
                f,
                "argument \"payloads\" element {index} is too large: {size} bytes, pg_mq.max_payload_size allows {limit}"
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
        }
    }
}

impl std::error::Error for MqError {}

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
            size: 10,
            limit: 5,
            element: None,
        };
        assert!(big.to_string().starts_with("argument \"payload\""));
        assert_eq!(big.sqlstate(), SqlState::ProgramLimitExceeded);
        let big_element = MqError::PayloadTooLarge {
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
