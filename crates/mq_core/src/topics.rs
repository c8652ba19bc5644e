//! Topics as managed queues: a topic's own settings, and which value applies to a call — the
//! call's argument, else the topic's setting, else the server's `pg_mq.*` setting.
//! Pure Rust; the catalog is `mq.topics` (src/api/topics.rs).

use std::fmt;

use serde::Serialize;

use crate::error::MqError;
use crate::validation::{self, IntervalParts};

/// One per-topic setting, by the name `mq_alter_topic(reset => ...)` and the configuration
/// documents use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Knob {
    MaxRetries,
    RetryBaseDelay,
    RetryMaxDelay,
    LockTimeout,
    MessageTtl,
    MaxDepth,
    Retention,
    DedupWindow,
    OrderingDeadLetter,
    Description,
}

impl Knob {
    pub const ALL: [Knob; 10] = [
        Knob::MaxRetries,
        Knob::RetryBaseDelay,
        Knob::RetryMaxDelay,
        Knob::LockTimeout,
        Knob::MessageTtl,
        Knob::MaxDepth,
        Knob::Retention,
        Knob::DedupWindow,
        Knob::OrderingDeadLetter,
        Knob::Description,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Knob::MaxRetries => "max_retries",
            Knob::RetryBaseDelay => "retry_base_delay",
            Knob::RetryMaxDelay => "retry_max_delay",
            Knob::LockTimeout => "lock_timeout",
            Knob::MessageTtl => "message_ttl",
            Knob::MaxDepth => "max_depth",
            Knob::Retention => "retention",
            Knob::DedupWindow => "dedup_window",
            Knob::OrderingDeadLetter => "ordering_dead_letter",
            Knob::Description => "description",
        }
    }

    /// The `pg_mq.*` setting the topic's value overrides, if any (message_ttl and max_depth
    /// have no server-wide setting: none applies unless the topic sets one).
    pub fn server_setting(self) -> Option<&'static str> {
        match self {
            Knob::MaxRetries => Some("pg_mq.default_max_retries"),
            Knob::RetryBaseDelay => Some("pg_mq.retry_base_delay"),
            Knob::RetryMaxDelay => Some("pg_mq.retry_max_delay"),
            Knob::LockTimeout => Some("pg_mq.lock_timeout"),
            Knob::Retention => Some("pg_mq.completed_retention"),
            Knob::DedupWindow => Some("pg_mq.dedup_window"),
            Knob::MessageTtl | Knob::MaxDepth | Knob::OrderingDeadLetter | Knob::Description => {
                None
            }
        }
    }

    /// The knob `name` names, for `reset`.
    pub fn parse(name: &str) -> Result<Knob, MqError> {
        Knob::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| MqError::InvalidArgument {
                argument: "reset",
                reason: format!("names an unknown setting {name:?}"),
                hint: Some(
                    "The settings of a topic are max_retries, retry_base_delay, retry_max_delay, lock_timeout, message_ttl, max_depth, retention, dedup_window, ordering_dead_letter and description.",
                ),
            })
    }
}

impl fmt::Display for Knob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What happens to the later messages of an ordering key when one of them is dead-lettered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OrderingDeadLetter {
    /// The next message of the key proceeds.
    #[default]
    Skip,
    /// The key waits until the dead letter is replayed or purged.
    Block,
}

impl OrderingDeadLetter {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderingDeadLetter::Skip => "skip",
            OrderingDeadLetter::Block => "block",
        }
    }

    pub fn parse(value: &str) -> Result<OrderingDeadLetter, MqError> {
        match value {
            "skip" => Ok(OrderingDeadLetter::Skip),
            "block" => Ok(OrderingDeadLetter::Block),
            other => Err(MqError::InvalidArgument {
                argument: "ordering_dead_letter",
                reason: format!("must be 'skip' or 'block', got {other:?}"),
                hint: None,
            }),
        }
    }
}

/// A topic's own settings (None: the server's applies), as `mq.topics` holds them. Intervals
/// are in microseconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TopicSettings {
    pub max_retries: Option<i32>,
    pub retry_base_delay_us: Option<i64>,
    pub retry_max_delay_us: Option<i64>,
    pub lock_timeout_us: Option<i64>,
    pub message_ttl_us: Option<i64>,
    pub max_depth: Option<i64>,
    pub retention_us: Option<i64>,
    pub dedup_window_us: Option<i64>,
    pub ordering_dead_letter: Option<OrderingDeadLetter>,
    pub description: Option<String>,
}

/// A topic's row of the catalog: its settings and whether it is paused.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Topic {
    pub name: String,
    pub settings: TopicSettings,
    pub paused: bool,
}

/// The longest interval a topic setting takes: a thousand years (so that now plus it is
/// always a valid timestamp).
pub const LONGEST_SETTING_US: i128 = 1_000 * 365 * 86_400_000_000;

/// Checks an interval argument of mq_create_topic / mq_alter_topic: longer than zero (or, with
/// `zero_ok`, not negative) and at most a thousand years; returns it in microseconds.
pub fn interval_setting(
    argument: &'static str,
    value: Option<IntervalParts>,
    zero_ok: bool,
) -> Result<Option<i64>, MqError> {
    let Some(value) = value else { return Ok(None) };
    let micros = value.comparable_micros();
    if micros < 0 || (micros == 0 && !zero_ok) {
        let rule = if zero_ok {
            "must not be negative"
        } else {
            "must be longer than zero"
        };
        return Err(MqError::invalid(argument, rule));
    }
    if micros > LONGEST_SETTING_US {
        return Err(MqError::invalid(
            argument,
            "is too long: at most 1000 years",
        ));
    }
    Ok(Some(
        i64::try_from(micros).expect("at most 1000 years fits i64"),
    ))
}

/// Checks the arguments of mq_create_topic / mq_alter_topic (NULL means "not given"), in the
/// order the SQL functions declare them.
#[allow(clippy::too_many_arguments)]
pub fn settings_from_arguments(
    max_retries: Option<i32>,
    retry_base_delay: Option<IntervalParts>,
    retry_max_delay: Option<IntervalParts>,
    lock_timeout: Option<IntervalParts>,
    message_ttl: Option<IntervalParts>,
    max_depth: Option<i64>,
    retention: Option<IntervalParts>,
    dedup_window: Option<IntervalParts>,
    ordering_dead_letter: Option<&str>,
    description: Option<&str>,
) -> Result<TopicSettings, MqError> {
    if let Some(n) = max_retries {
        validation::max_retries(Some(n), 0)?;
    }
    let retry_base_delay_us = interval_setting("retry_base_delay", retry_base_delay, true)?;
    let retry_max_delay_us = interval_setting("retry_max_delay", retry_max_delay, true)?;
    let lock_timeout_us = interval_setting("lock_timeout", lock_timeout, false)?;
    let message_ttl_us = interval_setting("message_ttl", message_ttl, false)?;
    if let Some(depth) = max_depth {
        if depth < 1 {
            return Err(MqError::invalid(
                "max_depth",
                format!("must be 1 or more, got {depth}"),
            ));
        }
    }
    let retention_us = interval_setting("retention", retention, false)?;
    if let Some(text) = description {
        if text.chars().count() > DESCRIPTION_MAX_LEN {
            return Err(MqError::invalid(
                "description",
                format!("is longer than {DESCRIPTION_MAX_LEN} characters"),
            ));
        }
    }
    let dedup_window_us = interval_setting("dedup_window", dedup_window, false)?;
    let ordering_dead_letter = ordering_dead_letter
        .map(OrderingDeadLetter::parse)
        .transpose()?;
    Ok(TopicSettings {
        max_retries,
        retry_base_delay_us,
        retry_max_delay_us,
        lock_timeout_us,
        message_ttl_us,
        max_depth,
        retention_us,
        dedup_window_us,
        ordering_dead_letter,
        description: description.map(str::to_owned),
    })
}

/// Longest topic description, in characters.
pub const DESCRIPTION_MAX_LEN: usize = 1_000;

/// The `reset` argument of mq_alter_topic: each a known setting's name.
pub fn reset_list(reset: Option<Vec<Option<String>>>) -> Result<Vec<Knob>, MqError> {
    reset
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, name)| {
            let name = name.ok_or(MqError::NullElement {
                argument: "reset",
                index: i + 1,
            })?;
            Knob::parse(&name)
        })
        .collect()
}

impl TopicSettings {
    /// `self` with the values of `changes` that are given, then the knobs of `reset` cleared.
    pub fn altered(&self, changes: &TopicSettings, reset: &[Knob]) -> TopicSettings {
        let mut out = TopicSettings {
            max_retries: changes.max_retries.or(self.max_retries),
            retry_base_delay_us: changes.retry_base_delay_us.or(self.retry_base_delay_us),
            retry_max_delay_us: changes.retry_max_delay_us.or(self.retry_max_delay_us),
            lock_timeout_us: changes.lock_timeout_us.or(self.lock_timeout_us),
            message_ttl_us: changes.message_ttl_us.or(self.message_ttl_us),
            max_depth: changes.max_depth.or(self.max_depth),
            retention_us: changes.retention_us.or(self.retention_us),
            dedup_window_us: changes.dedup_window_us.or(self.dedup_window_us),
            ordering_dead_letter: changes.ordering_dead_letter.or(self.ordering_dead_letter),
            description: changes
                .description
                .clone()
                .or_else(|| self.description.clone()),
        };
        for knob in reset {
            match knob {
                Knob::MaxRetries => out.max_retries = None,
                Knob::RetryBaseDelay => out.retry_base_delay_us = None,
                Knob::RetryMaxDelay => out.retry_max_delay_us = None,
                Knob::LockTimeout => out.lock_timeout_us = None,
                Knob::MessageTtl => out.message_ttl_us = None,
                Knob::MaxDepth => out.max_depth = None,
                Knob::Retention => out.retention_us = None,
                Knob::DedupWindow => out.dedup_window_us = None,
                Knob::OrderingDeadLetter => out.ordering_dead_letter = None,
                Knob::Description => out.description = None,
            }
        }
        out
    }
}

/// The server's settings a topic falls back to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServerDefaults {
    pub max_retries: i32,
    pub retry_base_delay_us: i64,
    pub retry_max_delay_us: i64,
    pub lock_timeout_us: i64,
    pub retention_us: i64,
    pub dedup_window_us: i64,
}

/// Where an effective value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The call's own argument.
    Argument,
    /// The topic's setting.
    Topic,
    /// The server's `pg_mq.*` setting (or, for settings without one, none set).
    Server,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Argument => "argument",
            Source::Topic => "topic",
            Source::Server => "server",
        }
    }
}

/// The first of a call's argument, the topic's setting and the server's, with its source.
pub fn resolve<T>(argument: Option<T>, topic: Option<T>, server: T) -> (T, Source) {
    match (argument, topic) {
        (Some(a), _) => (a, Source::Argument),
        (None, Some(t)) => (t, Source::Topic),
        (None, None) => (server, Source::Server),
    }
}

/// A topic's effective configuration, as mq_alter_topic returns it and mq_topics shows it.
/// Intervals are PostgreSQL interval text (`'00:00:30'`); absent values are null.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EffectiveConfig {
    pub max_retries: i32,
    pub retry_base_delay: String,
    pub retry_max_delay: String,
    pub lock_timeout: String,
    pub message_ttl: Option<String>,
    pub max_depth: Option<i64>,
    pub retention: String,
    pub dedup_window: String,
    pub ordering_dead_letter: OrderingDeadLetter,
    pub description: Option<String>,
}

/// Microseconds as PostgreSQL prints an interval of that length (`1 day 02:03:04.5`).
pub fn interval_text(micros: i64) -> String {
    let negative = micros < 0;
    let mut rest = micros.unsigned_abs();
    let days = rest / 86_400_000_000;
    rest %= 86_400_000_000;
    let (h, m) = (rest / 3_600_000_000, rest % 3_600_000_000 / 60_000_000);
    let s = rest % 60_000_000;
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if days > 0 {
        out.push_str(&format!("{days} day{} ", if days == 1 { "" } else { "s" }));
    }
    out.push_str(&format!("{h:02}:{m:02}:{:02}", s / 1_000_000));
    if !s.is_multiple_of(1_000_000) {
        let fraction = format!("{:06}", s % 1_000_000);
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out
}

impl TopicSettings {
    /// Every setting's effective value (the topic's, else the server's) and its source.
    pub fn effective(
        &self,
        server: &ServerDefaults,
    ) -> (EffectiveConfig, Vec<(Knob, Option<String>, Source)>) {
        let source = |given: bool| if given { Source::Topic } else { Source::Server };
        let config = EffectiveConfig {
            max_retries: self.max_retries.unwrap_or(server.max_retries),
            retry_base_delay: interval_text(
                self.retry_base_delay_us
                    .unwrap_or(server.retry_base_delay_us),
            ),
            retry_max_delay: interval_text(
                self.retry_max_delay_us.unwrap_or(server.retry_max_delay_us),
            ),
            lock_timeout: interval_text(self.lock_timeout_us.unwrap_or(server.lock_timeout_us)),
            message_ttl: self.message_ttl_us.map(interval_text),
            max_depth: self.max_depth,
            retention: interval_text(self.retention_us.unwrap_or(server.retention_us)),
            dedup_window: interval_text(self.dedup_window_us.unwrap_or(server.dedup_window_us)),
            ordering_dead_letter: self.ordering_dead_letter.unwrap_or_default(),
            description: self.description.clone(),
        };
        let rows = vec![
            (
                Knob::MaxRetries,
                Some(config.max_retries.to_string()),
                source(self.max_retries.is_some()),
            ),
            (
                Knob::RetryBaseDelay,
                Some(config.retry_base_delay.clone()),
                source(self.retry_base_delay_us.is_some()),
            ),
            (
                Knob::RetryMaxDelay,
                Some(config.retry_max_delay.clone()),
                source(self.retry_max_delay_us.is_some()),
            ),
            (
                Knob::LockTimeout,
                Some(config.lock_timeout.clone()),
                source(self.lock_timeout_us.is_some()),
            ),
            (
                Knob::MessageTtl,
                config.message_ttl.clone(),
                source(self.message_ttl_us.is_some()),
            ),
            (
                Knob::MaxDepth,
                config.max_depth.map(|d| d.to_string()),
                source(self.max_depth.is_some()),
            ),
            (
                Knob::Retention,
                Some(config.retention.clone()),
                source(self.retention_us.is_some()),
            ),
            (
                Knob::DedupWindow,
                Some(config.dedup_window.clone()),
                source(self.dedup_window_us.is_some()),
            ),
            (
                Knob::OrderingDeadLetter,
                Some(config.ordering_dead_letter.as_str().to_owned()),
                source(self.ordering_dead_letter.is_some()),
            ),
            (
                Knob::Description,
                config.description.clone(),
                source(self.description.is_some()),
            ),
        ];
        (config, rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::SqlState;

    fn iv(micros: i64) -> Option<IntervalParts> {
        Some(IntervalParts {
            months: 0,
            days: 0,
            micros,
        })
    }

    const SERVER: ServerDefaults = ServerDefaults {
        max_retries: 3,
        retry_base_delay_us: 1_000_000,
        retry_max_delay_us: 60_000_000,
        lock_timeout_us: 30_000_000,
        retention_us: 7 * 86_400_000_000,
        dedup_window_us: 300_000_000,
    };

    #[test]
    fn the_argument_wins_over_the_topic_over_the_server() {
        assert_eq!(resolve(Some(1), Some(2), 3), (1, Source::Argument));
        assert_eq!(resolve(None, Some(2), 3), (2, Source::Topic));
        assert_eq!(resolve(None::<i32>, None, 3), (3, Source::Server));
    }

    #[test]
    fn arguments_are_checked() {
        let bad = |r: Result<TopicSettings, MqError>| r.unwrap_err();
        let e = bad(settings_from_arguments(
            Some(-1),
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        ));
        assert_eq!(e.sqlstate(), SqlState::InvalidParameterValue);
        let e = bad(settings_from_arguments(
            None,
            None,
            None,
            iv(0),
            None,
            None,
            None,
            None,
            None,
            None,
        ));
        assert!(
            e.to_string().starts_with("argument \"lock_timeout\""),
            "{e}"
        );
        let e = bad(settings_from_arguments(
            None,
            None,
            None,
            None,
            iv(-5),
            None,
            None,
            None,
            None,
            None,
        ));
        assert!(e.to_string().starts_with("argument \"message_ttl\""), "{e}");
        let e = bad(settings_from_arguments(
            None,
            None,
            None,
            None,
            None,
            Some(0),
            None,
            None,
            None,
            None,
        ));
        assert!(e.to_string().starts_with("argument \"max_depth\""), "{e}");
        let e = bad(settings_from_arguments(
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            Some("wait"),
            None,
        ));
        assert!(
            e.to_string()
                .starts_with("argument \"ordering_dead_letter\""),
            "{e}"
        );
        // A zero backoff is allowed (retry at once), a negative one is not.
        assert!(settings_from_arguments(
            None,
            iv(0),
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None
        )
        .is_ok());
        assert!(settings_from_arguments(
            None,
            iv(-1),
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None
        )
        .is_err());
    }

    #[test]
    fn reset_names_known_settings_only() {
        assert_eq!(
            reset_list(Some(vec![
                Some("lock_timeout".into()),
                Some("description".into())
            ]))
            .unwrap(),
            vec![Knob::LockTimeout, Knob::Description]
        );
        let e = reset_list(Some(vec![Some("lock_timeot".into())])).unwrap_err();
        assert_eq!(e.sqlstate(), SqlState::InvalidParameterValue);
        assert!(e.to_string().contains("\"lock_timeot\""));
        let e = reset_list(Some(vec![None])).unwrap_err();
        assert_eq!(e.sqlstate(), SqlState::NullValueNotAllowed);
        assert!(reset_list(None).unwrap().is_empty());
    }

    #[test]
    fn altering_keeps_what_is_not_given_and_resets_what_is_named() {
        let start = TopicSettings {
            max_retries: Some(5),
            lock_timeout_us: Some(10_000_000),
            ..TopicSettings::default()
        };
        let changes = TopicSettings {
            max_depth: Some(100),
            ..TopicSettings::default()
        };
        let altered = start.altered(&changes, &[Knob::LockTimeout]);
        assert_eq!(altered.max_retries, Some(5));
        assert_eq!(altered.max_depth, Some(100));
        assert_eq!(altered.lock_timeout_us, None);
    }

    #[test]
    fn effective_configuration_names_its_sources() {
        let settings = TopicSettings {
            lock_timeout_us: Some(90_000_000),
            message_ttl_us: Some(86_400_000_000 + 1_500_000),
            ..TopicSettings::default()
        };
        let (config, rows) = settings.effective(&SERVER);
        assert_eq!(config.lock_timeout, "00:01:30");
        assert_eq!(config.retry_base_delay, "00:00:01");
        assert_eq!(config.message_ttl.as_deref(), Some("1 day 00:00:01.5"));
        assert_eq!(config.retention, "7 days 00:00:00");
        let source = |k: Knob| rows.iter().find(|r| r.0 == k).unwrap().2;
        assert_eq!(source(Knob::LockTimeout), Source::Topic);
        assert_eq!(source(Knob::MaxRetries), Source::Server);
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(json["ordering_dead_letter"], "skip");
        assert_eq!(json["max_depth"], serde_json::Value::Null);
    }
}
