//! Argument checks for the SQL functions. Pure Rust, no PostgreSQL types: the glue converts
//! its arguments to plain values first, so every rule here has a plain unit test.

use crate::error::MqError;

/// Longest topic name, in characters.
pub const TOPIC_MAX_LEN: usize = 255;
/// Longest consumer id, in characters.
pub const CONSUMER_ID_MAX_LEN: usize = 255;
/// Largest `batch_size` one `mq_poll` may claim.
pub const BATCH_SIZE_MAX: i32 = 10_000;

const TOPIC_HINT: &str =
    "A topic is 1 to 255 characters from ASCII letters, digits and the characters . _ - :";

/// A PostgreSQL interval as its three fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntervalParts {
    pub months: i32,
    pub days: i32,
    pub micros: i64,
}

impl IntervalParts {
    /// The interval's length with PostgreSQL's comparison rules (a month is 30 days, a day
    /// 24 hours), so the sign agrees with `interval '0' < x` in SQL.
    pub fn comparable_micros(self) -> i128 {
        const DAY: i128 = 86_400_000_000;
        i128::from(self.months) * 30 * DAY + i128::from(self.days) * DAY + i128::from(self.micros)
    }
}

/// Requires a non-NULL argument.
pub fn required<T>(argument: &'static str, value: Option<T>) -> Result<T, MqError> {
    value.ok_or(MqError::NullArgument { argument })
}

/// A topic: 1..=255 characters, each an ASCII letter or digit or one of `. _ - :`.
pub fn topic(topic: Option<&str>) -> Result<&str, MqError> {
    name("topic", topic)
}

/// A name with the rules of a topic (a topic, a consumer group), for argument `argument`.
pub fn name<'a>(argument: &'static str, value: Option<&'a str>) -> Result<&'a str, MqError> {
    let value = required(argument, value)?;
    if value.is_empty() {
        return Err(MqError::InvalidArgument {
            argument,
            reason: "must not be empty".into(),
            hint: Some(TOPIC_HINT),
        });
    }
    let length = value.chars().count();
    if length > TOPIC_MAX_LEN {
        return Err(MqError::InvalidArgument {
            argument,
            reason: format!("is {length} characters long, the limit is {TOPIC_MAX_LEN}"),
            hint: Some(TOPIC_HINT),
        });
    }
    if let Some((position, bad)) = value.chars().enumerate().find(|(_, c)| !is_topic_char(*c)) {
        return Err(MqError::InvalidArgument {
            argument,
            reason: format!(
                "contains the character {} at position {}",
                describe_char(bad),
                position + 1
            ),
            hint: Some(TOPIC_HINT),
        });
    }
    Ok(value)
}

/// Whether `c` may appear in a topic name.
pub fn is_topic_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':')
}

fn describe_char(c: char) -> String {
    if c.is_control() || c.is_whitespace() {
        format!("U+{:04X}", u32::from(c))
    } else {
        format!("'{c}' (U+{:04X})", u32::from(c))
    }
}

/// `batch_size` of `mq_poll`: 1..=10000.
pub fn batch_size(batch_size: Option<i32>) -> Result<i32, MqError> {
    let n = required("batch_size", batch_size)?;
    if !(1..=BATCH_SIZE_MAX).contains(&n) {
        return Err(MqError::invalid(
            "batch_size",
            format!("must be between 1 and {BATCH_SIZE_MAX}, got {n}"),
        ));
    }
    Ok(n)
}

/// `max_retries`: NULL takes the configured default; otherwise zero or more.
pub fn max_retries(max_retries: Option<i32>, default: i32) -> Result<i32, MqError> {
    match max_retries {
        None => Ok(default),
        Some(n) if n < 0 => Err(MqError::invalid(
            "max_retries",
            format!("must not be negative, got {n}"),
        )),
        Some(n) => Ok(n),
    }
}

/// The size in bytes of JSON argument `argument` (the payload, or the headers) against
/// `pg_mq.max_payload_size`.
pub fn json_size(argument: &'static str, size: usize, limit: usize) -> Result<(), MqError> {
    if size > limit {
        Err(MqError::PayloadTooLarge {
            argument,
            size,
            limit,
            element: None,
        })
    } else {
        Ok(())
    }
}

/// The payloads of `mq_publish_batch`, as each element's size (None: a NULL element): none
/// NULL, none over `limit`.
pub fn batch_payloads(
    sizes: impl IntoIterator<Item = Option<usize>>,
    limit: usize,
) -> Result<(), MqError> {
    for (i, size) in sizes.into_iter().enumerate() {
        match size {
            None => {
                return Err(MqError::NullElement {
                    argument: "payloads",
                    index: i + 1,
                })
            }
            Some(size) if size > limit => {
                return Err(MqError::PayloadTooLarge {
                    argument: "payloads",
                    size,
                    limit,
                    element: Some(i + 1),
                })
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// How long `mq_poll` may wait for messages: zero or more.
pub fn wait(wait: Option<IntervalParts>) -> Result<IntervalParts, MqError> {
    let wait = required("wait", wait)?;
    if wait.comparable_micros() < 0 {
        return Err(MqError::invalid("wait", "must not be negative"));
    }
    Ok(wait)
}

/// How a message's first delivery time is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    Now,
    At,
    After,
}

/// `execute_at` and `delay` of `mq_publish`: at most one of them; `delay` not negative;
/// `execute_at` finite.
pub fn schedule(
    execute_at_finite: Option<bool>,
    delay: Option<IntervalParts>,
) -> Result<Schedule, MqError> {
    match (execute_at_finite, delay) {
        (Some(_), Some(_)) => Err(MqError::ConflictingArguments {
            first: "execute_at",
            second: "delay",
            hint: "Pass execute_at for an absolute delivery time or delay for one relative to now.",
        }),
        (Some(false), None) => Err(MqError::invalid(
            "execute_at",
            "must be a finite timestamp, not infinity",
        )),
        (Some(true), None) => Ok(Schedule::At),
        (None, Some(delay)) if delay.comparable_micros() < 0 => {
            Err(MqError::invalid("delay", "must not be negative"))
        }
        (None, Some(_)) => Ok(Schedule::After),
        (None, None) => Ok(Schedule::Now),
    }
}

/// Microseconds from PostgreSQL's epoch (2000-01-01) to the first timestamp it represents
/// (4714-11-24 BC) and to the end of its range (294277-01-01, exclusive).
pub const TIMESTAMP_FIRST_MICROS: i64 = -211_813_488_000_000_000;
pub const TIMESTAMP_END_MICROS: i64 = 9_223_371_331_200_000_000;

/// Longest ordering or dedup key, in characters.
pub const KEY_MAX_LEN: usize = 255;

/// An ordering or dedup key (argument `argument`): NULL for none, else 1 to 255 characters.
pub fn key<'a>(argument: &'static str, key: Option<&'a str>) -> Result<Option<&'a str>, MqError> {
    match key {
        None => Ok(None),
        Some("") => Err(MqError::invalid(
            argument,
            "must not be empty (NULL for none)",
        )),
        Some(k) if k.chars().count() > KEY_MAX_LEN => Err(MqError::invalid(
            argument,
            format!(
                "is {} characters long, the limit is {KEY_MAX_LEN}",
                k.chars().count()
            ),
        )),
        Some(k) => Ok(Some(k)),
    }
}

/// The keys of a batch (argument `argument`): NULL for none, else one per payload (`len`),
/// each NULL or a valid key.
pub fn batch_keys(
    argument: &'static str,
    keys: Option<&[Option<String>]>,
    len: usize,
) -> Result<Vec<Option<String>>, MqError> {
    let Some(keys) = keys else {
        return Ok(vec![None; len]);
    };
    if keys.len() != len {
        return Err(MqError::invalid(
            argument,
            format!(
                "must have one element per payload: {len} payloads, {} keys",
                keys.len()
            ),
        ));
    }
    keys.iter()
        .enumerate()
        .map(|(i, k)| {
            key(argument, k.as_deref())
                .map(|k| k.map(str::to_owned))
                .map_err(|e| match e {
                    MqError::InvalidArgument {
                        argument,
                        reason,
                        hint,
                    } => MqError::InvalidArgument {
                        argument,
                        reason: format!("element {}: {reason}", i + 1),
                        hint,
                    },
                    other => other,
                })
        })
        .collect()
}

/// mq_publish's `expires_at` (when given, as (is finite, microseconds since the Unix epoch)):
/// a finite time after `now_micros`.
pub fn expires_at(value: Option<(bool, i64)>, now_micros: i64) -> Result<(), MqError> {
    match value {
        Some((false, _)) => Err(MqError::invalid(
            "expires_at",
            "must be a finite timestamp, not infinity",
        )),
        Some((true, at)) if at <= now_micros => Err(MqError::InvalidArgument {
            argument: "expires_at",
            reason: "must be later than now".into(),
            hint: Some("A message that may never expire is published with expires_at NULL."),
        }),
        _ => Ok(()),
    }
}

/// An interval that is added to the current time (`delay`, `lock_timeout`) must land inside
/// the timestamptz range. Checked with every month counted as 31 days and a day to spare (a
/// long-poll claims later than it checks), so an interval that fits only barely is refused
/// rather than left to overflow inside a statement.
pub fn fits_after_now(
    argument: &'static str,
    now_micros: i64,
    interval: IntervalParts,
) -> Result<(), MqError> {
    const DAY: i128 = 86_400_000_000;
    let longest = i128::from(interval.months).max(0) * 31 * DAY
        + i128::from(interval.days).max(0) * DAY
        + i128::from(interval.micros).max(0);
    if i128::from(now_micros) + longest + DAY >= i128::from(TIMESTAMP_END_MICROS) {
        return Err(MqError::invalid(
            argument,
            "is too long: now plus it is past the end of the timestamp range (year 294276)",
        ));
    }
    Ok(())
}

/// `lock_timeout` of `mq_poll`: NULL takes the configured default; otherwise longer than zero.
pub fn lock_timeout(lock_timeout: Option<IntervalParts>) -> Result<Option<IntervalParts>, MqError> {
    match lock_timeout {
        Some(t) if t.comparable_micros() <= 0 => {
            Err(MqError::invalid("lock_timeout", "must be longer than zero"))
        }
        other => Ok(other),
    }
}

/// `retry_in` of `mq_fail`: NULL keeps the backoff; otherwise zero or more.
pub fn retry_in(retry_in: Option<IntervalParts>) -> Result<Option<IntervalParts>, MqError> {
    match retry_in {
        Some(t) if t.comparable_micros() < 0 => {
            Err(MqError::invalid("retry_in", "must not be negative"))
        }
        other => Ok(other),
    }
}

/// `extend_by` of `mq_extend`: required and longer than zero.
pub fn extend_by(extend_by: Option<IntervalParts>) -> Result<IntervalParts, MqError> {
    let extend_by = required("extend_by", extend_by)?;
    if extend_by.comparable_micros() <= 0 {
        return Err(MqError::invalid("extend_by", "must be longer than zero"));
    }
    Ok(extend_by)
}

/// `consumer_id` of `mq_poll`: at most 255 characters.
pub fn consumer_id(consumer_id: Option<&str>) -> Result<Option<&str>, MqError> {
    match consumer_id {
        Some(id) if id.chars().count() > CONSUMER_ID_MAX_LEN => Err(MqError::invalid(
            "consumer_id",
            format!("is longer than {CONSUMER_ID_MAX_LEN} characters"),
        )),
        other => Ok(other),
    }
}

/// The JSON type at the root of a jsonb value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonRoot {
    Object,
    Array,
    Scalar,
}

/// `headers`, given as its root kind and its size in bytes: NULL, or a JSON object no larger
/// than `limit` (`pg_mq.max_payload_size`, the payload's limit).
pub fn headers(headers: Option<(JsonRoot, usize)>, limit: usize) -> Result<(), MqError> {
    match headers {
        None => Ok(()),
        Some((JsonRoot::Object, size)) => json_size("headers", size, limit),
        Some((JsonRoot::Array, _)) => Err(MqError::invalid(
            "headers",
            "must be a JSON object or NULL, got an array",
        )),
        Some((JsonRoot::Scalar, _)) => Err(MqError::invalid(
            "headers",
            "must be a JSON object or NULL, got a scalar",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_one_to_255_characters_one_per_payload() {
        assert_eq!(key("ordering_key", None).unwrap(), None);
        assert_eq!(
            key("ordering_key", Some("order-7")).unwrap(),
            Some("order-7")
        );
        assert!(key("ordering_key", Some("")).is_err());
        let long = "k".repeat(256);
        let e = key("dedup_key", Some(&long)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "argument \"dedup_key\" is 256 characters long, the limit is 255"
        );
        assert_eq!(
            batch_keys("ordering_keys", None, 2).unwrap(),
            vec![None, None]
        );
        let e = batch_keys("ordering_keys", Some(&[Some("a".into())]), 2).unwrap_err();
        assert!(e.to_string().contains("2 payloads, 1 keys"), "{e}");
        let e = batch_keys(
            "dedup_keys",
            Some(&[Some("a".into()), Some(String::new())]),
            2,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("argument \"dedup_keys\" element 2: must not be empty"),
            "{e}"
        );
    }

    #[test]
    fn expiry_must_be_finite_and_later_than_now() {
        assert!(expires_at(None, 10).is_ok());
        assert!(expires_at(Some((true, 11)), 10).is_ok());
        let e = expires_at(Some((true, 10)), 10).unwrap_err();
        assert_eq!(
            e.to_string(),
            "argument \"expires_at\" must be later than now"
        );
        assert!(expires_at(Some((false, 0)), 10).is_err());
    }
    use crate::error::SqlState;

    fn state<T: std::fmt::Debug>(r: Result<T, MqError>) -> SqlState {
        r.expect_err("expected an error").sqlstate()
    }

    #[test]
    fn topic_accepts_the_documented_alphabet() {
        assert_eq!(topic(Some("orders")), Ok("orders"));
        assert_eq!(topic(Some("a.b_c-d:E9")), Ok("a.b_c-d:E9"));
        let longest = "x".repeat(TOPIC_MAX_LEN);
        assert_eq!(topic(Some(&longest)), Ok(longest.as_str()));
    }

    #[test]
    fn topic_rejections_carry_their_sqlstate() {
        assert_eq!(state(topic(None)), SqlState::NullValueNotAllowed);
        assert_eq!(state(topic(Some(""))), SqlState::InvalidParameterValue);
        let too_long = "x".repeat(TOPIC_MAX_LEN + 1);
        assert_eq!(
            state(topic(Some(&too_long))),
            SqlState::InvalidParameterValue
        );
        for bad in ["a b", "a/b", "é", "a;drop", "tab\t", "quote'", "*"] {
            assert_eq!(
                state(topic(Some(bad))),
                SqlState::InvalidParameterValue,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn topic_error_points_at_the_character() {
        let err = topic(Some("ab cd")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "argument \"topic\" contains the character U+0020 at position 3"
        );
        assert!(err.hint().unwrap().contains(". _ - :"));
    }

    #[test]
    fn topic_length_counts_characters_not_bytes() {
        // 200 two-byte characters are 400 bytes but only 200 characters: rejected for the
        // character, not for the length.
        let err = topic(Some(&"é".repeat(200))).unwrap_err();
        assert!(err.to_string().contains("contains the character"), "{err}");
    }

    #[test]
    fn batch_size_bounds() {
        assert_eq!(batch_size(Some(1)), Ok(1));
        assert_eq!(batch_size(Some(BATCH_SIZE_MAX)), Ok(BATCH_SIZE_MAX));
        assert_eq!(state(batch_size(Some(0))), SqlState::InvalidParameterValue);
        assert_eq!(state(batch_size(Some(-5))), SqlState::InvalidParameterValue);
        assert_eq!(
            state(batch_size(Some(BATCH_SIZE_MAX + 1))),
            SqlState::InvalidParameterValue
        );
        assert_eq!(state(batch_size(None)), SqlState::NullValueNotAllowed);
    }

    #[test]
    fn max_retries_default_and_sign() {
        assert_eq!(max_retries(None, 3), Ok(3));
        assert_eq!(max_retries(Some(0), 3), Ok(0));
        assert_eq!(max_retries(Some(10), 3), Ok(10));
        assert_eq!(
            state(max_retries(Some(-1), 3)),
            SqlState::InvalidParameterValue
        );
    }

    #[test]
    fn batch_payloads_name_the_bad_element() {
        assert_eq!(batch_payloads([Some(1), Some(2)], 2), Ok(()));
        assert_eq!(batch_payloads([], 2), Ok(()));
        let null = batch_payloads([Some(1), None], 2).unwrap_err();
        assert_eq!(null.sqlstate(), SqlState::NullValueNotAllowed);
        assert!(null.to_string().contains("element 2"));
        let big = batch_payloads([Some(1), Some(1), Some(3)], 2).unwrap_err();
        assert_eq!(big.sqlstate(), SqlState::ProgramLimitExceeded);
        assert!(big.to_string().contains("element 3"));
    }

    #[test]
    fn intervals_after_now_must_stay_in_range() {
        let now = 849_000_000_000_000; // 2026-11-24
        let years = |n: i32| IntervalParts {
            months: 12 * n,
            days: 0,
            micros: 0,
        };
        assert!(fits_after_now("delay", now, years(100_000)).is_ok());
        let err = fits_after_now("delay", now, years(292_000)).unwrap_err();
        assert_eq!(err.sqlstate(), SqlState::InvalidParameterValue);
        assert!(err
            .to_string()
            .starts_with("argument \"delay\" is too long"));
        let days = IntervalParts {
            months: 0,
            days: 1_000_000,
            micros: 0,
        };
        assert!(fits_after_now("lock_timeout", now, days).is_ok());
        let days = IntervalParts {
            months: 0,
            days: i32::MAX,
            micros: 0,
        };
        assert!(fits_after_now("lock_timeout", now, days).is_err());
        let micros = IntervalParts {
            months: 0,
            days: 0,
            micros: i64::MAX,
        };
        assert!(fits_after_now("lock_timeout", now, micros).is_err());
        // Negative parts only shorten it.
        let mixed = IntervalParts {
            months: i32::MAX,
            days: i32::MIN,
            micros: i64::MIN,
        };
        assert!(fits_after_now("delay", now, mixed).is_err());
    }

    #[test]
    fn wait_is_zero_or_more() {
        assert_eq!(wait(Some(iv(0, 0, 0))), Ok(iv(0, 0, 0)));
        assert_eq!(wait(Some(iv(0, 0, 5))), Ok(iv(0, 0, 5)));
        assert_eq!(
            state(wait(Some(iv(0, 0, -1)))),
            SqlState::InvalidParameterValue
        );
        assert_eq!(state(wait(None)), SqlState::NullValueNotAllowed);
    }

    #[test]
    fn json_size_limit_is_inclusive() {
        assert_eq!(json_size("payload", 1024, 1024), Ok(()));
        assert_eq!(
            state(json_size("payload", 1025, 1024)),
            SqlState::ProgramLimitExceeded
        );
        assert!(json_size("headers", 1025, 1024)
            .unwrap_err()
            .to_string()
            .starts_with("argument \"headers\" is too large"));
    }

    fn iv(months: i32, days: i32, micros: i64) -> IntervalParts {
        IntervalParts {
            months,
            days,
            micros,
        }
    }

    #[test]
    fn schedule_rules() {
        assert_eq!(schedule(None, None), Ok(Schedule::Now));
        assert_eq!(schedule(Some(true), None), Ok(Schedule::At));
        assert_eq!(schedule(None, Some(iv(0, 0, 5))), Ok(Schedule::After));
        assert_eq!(schedule(None, Some(iv(0, 0, 0))), Ok(Schedule::After));
        assert_eq!(
            state(schedule(Some(true), Some(iv(0, 0, 5)))),
            SqlState::InvalidParameterValue
        );
        assert_eq!(
            state(schedule(Some(false), None)),
            SqlState::InvalidParameterValue
        );
        assert_eq!(
            state(schedule(None, Some(iv(0, 0, -1)))),
            SqlState::InvalidParameterValue
        );
        // '1 month -29 days' is positive by PostgreSQL's rules, '1 day -25 hours' negative.
        assert_eq!(schedule(None, Some(iv(1, -29, 0))), Ok(Schedule::After));
        assert_eq!(
            state(schedule(None, Some(iv(0, 1, -25 * 3_600_000_000)))),
            SqlState::InvalidParameterValue
        );
    }

    #[test]
    fn lock_timeout_must_be_positive() {
        assert_eq!(lock_timeout(None), Ok(None));
        assert_eq!(lock_timeout(Some(iv(0, 0, 1))), Ok(Some(iv(0, 0, 1))));
        assert_eq!(
            state(lock_timeout(Some(iv(0, 0, 0)))),
            SqlState::InvalidParameterValue
        );
        assert_eq!(
            state(lock_timeout(Some(iv(0, -1, 0)))),
            SqlState::InvalidParameterValue
        );
    }

    #[test]
    fn retry_in_and_extend_by() {
        assert_eq!(retry_in(None), Ok(None));
        assert_eq!(retry_in(Some(iv(0, 0, 0))), Ok(Some(iv(0, 0, 0))));
        assert_eq!(
            state(retry_in(Some(iv(0, 0, -1)))),
            SqlState::InvalidParameterValue
        );
        assert_eq!(extend_by(Some(iv(0, 0, 1))), Ok(iv(0, 0, 1)));
        assert_eq!(state(extend_by(None)), SqlState::NullValueNotAllowed);
        assert_eq!(
            state(extend_by(Some(iv(0, 0, 0)))),
            SqlState::InvalidParameterValue
        );
    }

    #[test]
    fn consumer_id_length() {
        assert_eq!(consumer_id(None), Ok(None));
        assert_eq!(consumer_id(Some("worker-1")), Ok(Some("worker-1")));
        let long = "w".repeat(CONSUMER_ID_MAX_LEN + 1);
        assert_eq!(
            state(consumer_id(Some(&long))),
            SqlState::InvalidParameterValue
        );
    }

    #[test]
    fn headers_must_be_an_object_within_the_size_limit() {
        assert_eq!(headers(None, 64), Ok(()));
        assert_eq!(headers(Some((JsonRoot::Object, 64)), 64), Ok(()));
        assert_eq!(
            state(headers(Some((JsonRoot::Object, 65)), 64)),
            SqlState::ProgramLimitExceeded
        );
        assert_eq!(
            state(headers(Some((JsonRoot::Array, 8)), 64)),
            SqlState::InvalidParameterValue
        );
        assert_eq!(
            state(headers(Some((JsonRoot::Scalar, 8)), 64)),
            SqlState::InvalidParameterValue
        );
    }
}
