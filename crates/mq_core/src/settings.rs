//! The `pg_mq.*` settings, declared once: name, type, default, range, unit, who may change
//! them and what they mean. The extension registers each with PostgreSQL from this list
//! (src/pg/settings.rs), and the README's settings tables are rendered from it (a test below
//! compares them).

use std::ffi::CStr;

/// Who may change a setting, and when it takes effect (PostgreSQL's GucContext).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// Any role, also with SET in a session.
    User,
    /// Superusers (or roles given SET ON PARAMETER), also with SET in a session.
    Superuser,
    /// postgresql.conf / ALTER SYSTEM, applied on reload; not SET in a session.
    Reload,
}

/// The unit PostgreSQL shows and parses a setting's integer value in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    None,
    Milliseconds,
    Seconds,
    Bytes,
}

/// A setting's type, default and range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Int {
        default: i32,
        min: i32,
        max: i32,
        unit: Unit,
    },
    Real {
        default: f64,
        min: f64,
        max: f64,
    },
    Bool {
        default: bool,
    },
    Text {
        default: &'static CStr,
    },
}

/// One `pg_mq.*` setting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Setting {
    pub name: &'static CStr,
    pub kind: Kind,
    pub context: Context,
    /// One line: the GUC's short description and the README's "meaning".
    pub description: &'static CStr,
    /// More detail for `pg_settings.extra_desc` (may be empty).
    pub detail: &'static CStr,
}

const DAY_S: i32 = 86_400;

impl Setting {
    /// The name as text (`pg_mq.…`).
    pub fn name(&self) -> &'static str {
        self.name.to_str().expect("setting names are ASCII")
    }

    /// The integer default (panics for other kinds: a programming error caught by the tests).
    pub const fn int_default(&self) -> i32 {
        match self.kind {
            Kind::Int { default, .. } => default,
            _ => panic!("not an integer setting"),
        }
    }

    pub const fn real_default(&self) -> f64 {
        match self.kind {
            Kind::Real { default, .. } => default,
            _ => panic!("not a real setting"),
        }
    }

    pub const fn bool_default(&self) -> bool {
        match self.kind {
            Kind::Bool { default } => default,
            _ => panic!("not a boolean setting"),
        }
    }

    pub const fn text_default(&self) -> &'static CStr {
        match self.kind {
            Kind::Text { default } => default,
            _ => panic!("not a text setting"),
        }
    }

    /// The default as PostgreSQL shows it (`SHOW pg_mq.lock_timeout` → `30s`).
    pub fn shown_default(&self) -> String {
        match self.kind {
            Kind::Int { default, unit, .. } => show_int(default, unit),
            Kind::Real { default, .. } => format!("{default}"),
            Kind::Bool { default } => if default { "on" } else { "off" }.to_owned(),
            Kind::Text { default } => default.to_string_lossy().into_owned(),
        }
    }
}

/// An integer in its unit, as PostgreSQL prints it: the largest unit that divides it exactly.
fn show_int(value: i32, unit: Unit) -> String {
    let value = i64::from(value);
    let scales: &[(i64, &str)] = match unit {
        Unit::None => return value.to_string(),
        Unit::Milliseconds => &[
            (86_400_000, "d"),
            (3_600_000, "h"),
            (60_000, "min"),
            (1_000, "s"),
            (1, "ms"),
        ],
        Unit::Seconds => &[(86_400, "d"), (3_600, "h"), (60, "min"), (1, "s")],
        Unit::Bytes => &[(1 << 30, "GB"), (1 << 20, "MB"), (1 << 10, "kB"), (1, "B")],
    };
    if value == 0 {
        return format!("0{}", scales.last().map_or("", |s| s.1));
    }
    let (scale, name) = scales
        .iter()
        .find(|(scale, _)| value % scale == 0)
        .copied()
        .unwrap_or((1, ""));
    format!("{}{name}", value / scale)
}

pub const DEFAULT_MAX_RETRIES: Setting = Setting {
    name: c"pg_mq.default_max_retries",
    kind: Kind::Int {
        default: 3,
        min: 0,
        max: i32::MAX,
        unit: Unit::None,
    },
    context: Context::User,
    description: c"Retries of a message published with max_retries NULL (0 or more).",
    detail: c"A message is delivered at most 1 + max_retries times before it is dead-lettered.",
};

pub const LOCK_TIMEOUT: Setting = Setting {
    name: c"pg_mq.lock_timeout",
    kind: Kind::Int { default: 30_000, min: 1, max: i32::MAX, unit: Unit::Milliseconds },
    context: Context::User,
    description: c"How long a polled message stays locked when mq_poll's lock_timeout is NULL.",
    detail: c"After the lock expires the message can be delivered again and the old lease stops working.",
};

pub const RETRY_BASE_DELAY: Setting = Setting {
    name: c"pg_mq.retry_base_delay",
    kind: Kind::Int {
        default: 1_000,
        min: 0,
        max: i32::MAX,
        unit: Unit::Milliseconds,
    },
    context: Context::User,
    description: c"Backoff after the first failed delivery; it doubles with each further failure.",
    detail: c"",
};

pub const RETRY_MAX_DELAY: Setting = Setting {
    name: c"pg_mq.retry_max_delay",
    kind: Kind::Int {
        default: 60_000,
        min: 0,
        max: i32::MAX,
        unit: Unit::Milliseconds,
    },
    context: Context::User,
    description: c"Longest backoff between two deliveries of a failing message.",
    detail: c"",
};

pub const RETRY_JITTER: Setting = Setting {
    name: c"pg_mq.retry_jitter",
    kind: Kind::Real {
        default: 0.1,
        min: 0.0,
        max: 1.0,
    },
    context: Context::User,
    description:
        c"Largest fraction of a backoff that random jitter takes off (0..1; 0 disables jitter).",
    detail: c"Jitter only ever shortens the backoff.",
};

pub const TRACE: Setting = Setting {
    name: c"pg_mq.trace",
    kind: Kind::Bool { default: true },
    // The trace is the operators' record: a producer or consumer must not switch it off.
    context: Context::Superuser,
    description: c"Write a row to mq.traces for every state change of a message.",
    detail: c"",
};

pub const MAX_PAYLOAD_SIZE: Setting = Setting {
    name: c"pg_mq.max_payload_size",
    kind: Kind::Int {
        default: 1024 * 1024,
        min: 0,
        max: i32::MAX,
        unit: Unit::Bytes,
    },
    // A limit the operator sets; callers must not raise it for themselves.
    context: Context::Superuser,
    description:
        c"Largest payload (and largest headers) a publish accepts, as the size of the jsonb value.",
    detail: c"",
};

pub const AUTO_CREATE_TOPICS: Setting = Setting {
    name: c"pg_mq.auto_create_topics",
    kind: Kind::Bool { default: true },
    // Which topics exist is the operator's decision, not a producer's.
    context: Context::Superuser,
    description: c"Register a topic on its first publish, poll or grant; off: publishing to a topic never created with mq_create_topic raises 42704.",
    detail: c"",
};

pub const DEDUP_WINDOW: Setting = Setting {
    name: c"pg_mq.dedup_window",
    kind: Kind::Int {
        default: 300,
        min: 1,
        max: i32::MAX,
        unit: Unit::Seconds,
    },
    context: Context::User,
    description: c"How long a publish's dedup_key is remembered, for topics without a dedup_window of their own.",
    detail: c"",
};

pub const RECOVERY_INTERVAL: Setting = Setting {
    name: c"pg_mq.recovery_interval",
    kind: Kind::Int {
        default: 5_000,
        min: 10,
        max: i32::MAX,
        unit: Unit::Milliseconds,
    },
    context: Context::Reload,
    description: c"How often the background worker recovers messages whose lock expired.",
    detail: c"",
};

pub const SCHEDULE_INTERVAL: Setting = Setting {
    name: c"pg_mq.schedule_interval",
    kind: Kind::Int { default: 200, min: 10, max: i32::MAX, unit: Unit::Milliseconds },
    context: Context::Reload,
    description: c"How often the background worker makes scheduled messages whose time has come deliverable.",
    detail: c"A message published for later, or waiting for a retry, is delivered at most this long after its due time even if no poller looks.",
};

pub const FOLD_INTERVAL: Setting = Setting {
    name: c"pg_mq.fold_interval",
    kind: Kind::Int {
        default: 1_000,
        min: 10,
        max: i32::MAX,
        unit: Unit::Milliseconds,
    },
    context: Context::Reload,
    description:
        c"How often the background worker folds the metrics changes into the per-topic totals.",
    detail: c"Metrics read the totals plus the changes not folded yet.",
};

pub const RETENTION_INTERVAL: Setting = Setting {
    name: c"pg_mq.retention_interval",
    kind: Kind::Int {
        default: 60_000,
        min: 10,
        max: i32::MAX,
        unit: Unit::Milliseconds,
    },
    context: Context::Reload,
    description: c"How often the background worker deletes rows past their retention.",
    detail: c"",
};

pub const COMPLETED_RETENTION: Setting = Setting {
    name: c"pg_mq.completed_retention",
    kind: Kind::Int {
        default: 7 * DAY_S,
        min: 0,
        max: i32::MAX,
        unit: Unit::Seconds,
    },
    context: Context::Reload,
    description: c"Age of COMPLETED messages the background worker deletes (0 keeps them).",
    detail: c"",
};

pub const DEAD_LETTER_RETENTION: Setting = Setting {
    name: c"pg_mq.dead_letter_retention",
    kind: Kind::Int { default: 30 * DAY_S, min: 0, max: i32::MAX, unit: Unit::Seconds },
    context: Context::Reload,
    description: c"Age since replay of replayed dead letters the background worker deletes (0 keeps them; dead letters never replayed are kept).",
    detail: c"",
};

pub const TRACE_RETENTION: Setting = Setting {
    name: c"pg_mq.trace_retention",
    kind: Kind::Int {
        default: 7 * DAY_S,
        min: 0,
        max: i32::MAX,
        unit: Unit::Seconds,
    },
    context: Context::Reload,
    description: c"Age of trace rows the background worker deletes (0 keeps them).",
    detail: c"",
};

pub const METRICS_SAMPLE_INTERVAL: Setting = Setting {
    name: c"pg_mq.metrics_sample_interval",
    kind: Kind::Int {
        default: 10_000,
        min: 100,
        max: i32::MAX,
        unit: Unit::Milliseconds,
    },
    context: Context::Reload,
    description: c"How often the background worker records a metrics snapshot.",
    detail: c"",
};

pub const METRICS_MAX_SAMPLES: Setting = Setting {
    name: c"pg_mq.metrics_max_samples",
    kind: Kind::Int {
        default: 360,
        min: 1,
        max: 1_000_000,
        unit: Unit::None,
    },
    context: Context::Reload,
    description: c"Metrics snapshots kept; older ones are deleted.",
    detail: c"",
};

pub const HEALTH_LAG_WARN: Setting = Setting {
    name: c"pg_mq.health_lag_warn",
    kind: Kind::Int {
        default: 60_000,
        min: 1,
        max: i32::MAX,
        unit: Unit::Milliseconds,
    },
    context: Context::User,
    description: c"mq_health's consumer_lag is warn when a topic's oldest deliverable message has waited this long, critical at five times it.",
    detail: c"",
};

pub const HEALTH_SNAPSHOT_WARN: Setting = Setting {
    name: c"pg_mq.health_snapshot_warn",
    kind: Kind::Int {
        default: 300_000,
        min: 1,
        max: i32::MAX,
        unit: Unit::Milliseconds,
    },
    context: Context::User,
    description: c"mq_health's snapshot_age is warn when a transaction snapshot has been held this long, critical at twelve times it.",
    detail: c"",
};

/// Every setting, in the order of the README's tables.
pub const ALL: &[Setting] = &[
    DEFAULT_MAX_RETRIES,
    LOCK_TIMEOUT,
    RETRY_BASE_DELAY,
    RETRY_MAX_DELAY,
    RETRY_JITTER,
    TRACE,
    MAX_PAYLOAD_SIZE,
    AUTO_CREATE_TOPICS,
    DEDUP_WINDOW,
    RECOVERY_INTERVAL,
    SCHEDULE_INTERVAL,
    FOLD_INTERVAL,
    RETENTION_INTERVAL,
    COMPLETED_RETENTION,
    DEAD_LETTER_RETENTION,
    TRACE_RETENTION,
    METRICS_SAMPLE_INTERVAL,
    METRICS_MAX_SAMPLES,
    HEALTH_LAG_WARN,
    HEALTH_SNAPSHOT_WARN,
];

/// The README's table of the settings in `contexts`: `| setting | default | meaning |`.
pub fn readme_table(contexts: &[Context]) -> String {
    let mut out = String::from("| setting | default | meaning |\n|---|---|---|\n");
    for setting in ALL.iter().filter(|s| contexts.contains(&s.context)) {
        let meaning = setting.description.to_string_lossy();
        let meaning = meaning.trim_end_matches('.');
        let who = if setting.context == Context::Superuser {
            " (superuser)"
        } else {
            ""
        };
        out.push_str(&format!(
            "| `{}` | {} | {meaning}{who} |\n",
            setting.name(),
            setting.shown_default()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_prefixed() {
        let mut names: Vec<&str> = ALL.iter().map(Setting::name).collect();
        assert!(names.iter().all(|n| n.starts_with("pg_mq.")));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
    }

    #[test]
    fn defaults_lie_in_their_ranges() {
        for s in ALL {
            match s.kind {
                Kind::Int {
                    default, min, max, ..
                } => assert!((min..=max).contains(&default), "{}", s.name()),
                Kind::Real { default, min, max } => {
                    assert!((min..=max).contains(&default), "{}", s.name())
                }
                Kind::Bool { .. } | Kind::Text { .. } => {}
            }
        }
    }

    #[test]
    fn defaults_show_as_postgresql_shows_them() {
        assert_eq!(LOCK_TIMEOUT.shown_default(), "30s");
        assert_eq!(RETRY_MAX_DELAY.shown_default(), "1min");
        assert_eq!(MAX_PAYLOAD_SIZE.shown_default(), "1MB");
        assert_eq!(COMPLETED_RETENTION.shown_default(), "7d");
        assert_eq!(RETRY_JITTER.shown_default(), "0.1");
        assert_eq!(TRACE.shown_default(), "on");
        assert_eq!(show_int(0, Unit::Seconds), "0s");
        assert_eq!(show_int(1_500, Unit::Milliseconds), "1500ms");
    }

    /// The README's two settings tables are exactly what `readme_table` renders.
    #[test]
    fn the_readme_tables_follow_from_the_list() {
        let readme = include_str!("../../../README.md");
        let missing: Vec<String> = [
            &[Context::User, Context::Superuser][..],
            &[Context::Reload][..],
        ]
        .iter()
        .map(|contexts| readme_table(contexts))
        .filter(|table| !readme.contains(table.as_str()))
        .collect();
        assert!(
            missing.is_empty(),
            "README.md lacks these settings tables (rendered from crates/mq_core/src/settings.rs):\n{}",
            missing.join("\n")
        );
    }
}
