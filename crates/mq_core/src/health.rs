//! `mq_health`'s checks: what each one measures and where ok ends and warn and critical begin.
//! The extension gathers the figures; this module decides.

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Ok,
    Warn,
    Critical,
}

impl Level {
    pub const ALL: [Level; 3] = [Level::Ok, Level::Warn, Level::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Critical => "critical",
        }
    }
}

/// A figure is warn from `warn` on and critical from `critical` on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub warn: f64,
    pub critical: f64,
}

impl Thresholds {
    pub fn level(self, value: f64) -> Level {
        if value >= self.critical {
            Level::Critical
        } else if value >= self.warn {
            Level::Warn
        } else {
            Level::Ok
        }
    }
}

/// Seconds the oldest deliverable message of a topic (or group) has waited: warn from
/// `pg_mq.health_lag_warn`, critical from five times it.
pub fn consumer_lag_seconds(warn_ms: i32) -> Thresholds {
    let warn = f64::from(warn_ms) / 1e3;
    Thresholds {
        warn,
        critical: warn * 5.0,
    }
}

/// Dead letters added over the last `WINDOW_SECONDS` (per topic and group).
pub const DEAD_LETTERS_ADDED: Thresholds = Thresholds {
    warn: 1.0,
    critical: 100.0,
};

/// Seconds the oldest transaction snapshot of the cluster has been held (it keeps vacuum from
/// removing the queue's dead rows): warn from `pg_mq.health_snapshot_warn`, critical from
/// twelve times it.
pub fn snapshot_age_seconds(warn_ms: i32) -> Thresholds {
    let warn = f64::from(warn_ms) / 1e3;
    Thresholds {
        warn,
        critical: warn * 12.0,
    }
}

/// Dead tuples of one of pg_mq's tables, as a share of its rows (live and dead); only tables
/// with at least `DEAD_TUPLES_MIN` dead tuples count.
pub const DEAD_TUPLE_SHARE: Thresholds = Thresholds {
    warn: 0.2,
    critical: 0.5,
};
pub const DEAD_TUPLES_MIN: i64 = 10_000;

/// Seconds since the worker's last metrics snapshot, in multiples of its interval: a worker
/// that missed this many is stuck.
pub const MISSED_SNAPSHOTS: Thresholds = Thresholds {
    warn: 3.0,
    critical: 10.0,
};

/// The span the rates and additions of the checks are measured over.
pub const WINDOW_SECONDS: i64 = 300;

/// What the consumers of one topic (or group) look like now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Consumption {
    pub pending: i64,
    pub processing: i64,
    /// Seconds the oldest deliverable message has waited (None: nothing deliverable).
    pub oldest_pending_seconds: Option<f64>,
    /// Deliveries completed over the window.
    pub completed: i64,
    /// Seconds since the last delivery (None: never delivered).
    pub since_delivery_seconds: Option<f64>,
    /// Depth (pending) at the window's start, when a sample of it exists.
    pub pending_before: Option<i64>,
}

/// The consumer-lag verdict of one topic and why: the lag itself, a backlog no one takes
/// (nothing delivered over the window while messages wait), deliveries that are never
/// acknowledged (in flight but nothing completed over the window), and a backlog growing over
/// the window.
pub fn consumer_lag(c: &Consumption, lag_thresholds: Thresholds) -> (Level, &'static str) {
    let lag = c
        .oldest_pending_seconds
        .map_or(Level::Ok, |s| lag_thresholds.level(s));
    let window = WINDOW_SECONDS as f64;
    let idle = c.pending > 0 && c.since_delivery_seconds.is_none_or(|s| s >= window);
    let unacknowledged = c.processing > 0 && c.completed == 0 && !idle;
    let rising = c
        .pending_before
        .is_some_and(|before| c.pending > before * 2 && c.pending > 100);
    let (reason, floor) = if idle {
        ("a backlog no one polls", Level::Warn)
    } else if unacknowledged {
        ("polls but no acknowledgements", Level::Warn)
    } else if rising {
        ("the backlog more than doubled over the window", Level::Warn)
    } else if lag > Level::Ok {
        ("the oldest message waits too long", Level::Ok)
    } else {
        ("consumers keep up", Level::Ok)
    };
    (lag.max(floor), reason)
}

/// A consumer's status in mq_consumers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumerStatus {
    /// It claimed or acknowledged within `CONSUMER_ACTIVE_SECONDS`, or holds a live lock.
    Active,
    /// Nothing lately, and nothing it held was lost.
    Idle,
    /// It holds a delivery whose lock expired, or the last thing that happened to it was
    /// losing one: it went away mid-delivery.
    Stale,
}

impl ConsumerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsumerStatus::Active => "active",
            ConsumerStatus::Idle => "idle",
            ConsumerStatus::Stale => "stale",
        }
    }
}

pub const CONSUMER_ACTIVE_SECONDS: f64 = 60.0;

/// What a consumer looks like now: seconds since its last claim or acknowledgement (None:
/// never), its in-flight deliveries and how many of their locks expired, and whether its last
/// event was a lock that expired.
pub fn consumer_status(
    since_activity_seconds: Option<f64>,
    in_flight: i64,
    expired_locks: i64,
    lost_last: bool,
) -> ConsumerStatus {
    if expired_locks > 0 || (lost_last && in_flight == 0) {
        ConsumerStatus::Stale
    } else if in_flight > 0 || since_activity_seconds.is_some_and(|s| s < CONSUMER_ACTIVE_SECONDS) {
        ConsumerStatus::Active
    } else {
        ConsumerStatus::Idle
    }
}

/// The worst of the levels (ok when there are none).
pub fn worst(levels: impl IntoIterator<Item = Level>) -> Level {
    levels.into_iter().max().unwrap_or(Level::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consumption() -> Consumption {
        Consumption {
            pending: 10,
            processing: 2,
            oldest_pending_seconds: Some(1.0),
            completed: 50,
            since_delivery_seconds: Some(0.5),
            pending_before: Some(8),
        }
    }

    fn consumer_lag_t(c: &Consumption) -> (Level, &'static str) {
        consumer_lag(c, consumer_lag_seconds(60_000))
    }

    #[test]
    fn thresholds_are_inclusive_from_below() {
        assert_eq!(consumer_lag_seconds(60_000).critical, 300.0);
        assert_eq!(snapshot_age_seconds(300_000).critical, 3600.0);
        let t = Thresholds {
            warn: 10.0,
            critical: 20.0,
        };
        assert_eq!(t.level(9.9), Level::Ok);
        assert_eq!(t.level(10.0), Level::Warn);
        assert_eq!(t.level(20.0), Level::Critical);
        assert_eq!(
            worst([Level::Ok, Level::Critical, Level::Warn]),
            Level::Critical
        );
        assert_eq!(worst([]), Level::Ok);
        assert_eq!(Level::ALL.map(Level::as_str), ["ok", "warn", "critical"]);
    }

    #[test]
    fn consumer_statuses() {
        assert_eq!(
            consumer_status(Some(1.0), 0, 0, false),
            ConsumerStatus::Active
        );
        assert_eq!(
            consumer_status(Some(600.0), 2, 0, false),
            ConsumerStatus::Active
        );
        assert_eq!(
            consumer_status(Some(600.0), 0, 0, false),
            ConsumerStatus::Idle
        );
        assert_eq!(consumer_status(None, 0, 0, false), ConsumerStatus::Idle);
        assert_eq!(
            consumer_status(Some(1.0), 3, 1, false),
            ConsumerStatus::Stale
        );
        assert_eq!(
            consumer_status(Some(5.0), 0, 0, true),
            ConsumerStatus::Stale
        );
        assert_eq!(ConsumerStatus::Stale.as_str(), "stale");
    }

    #[test]
    fn consumers_that_keep_up_are_ok() {
        assert_eq!(
            consumer_lag_t(&consumption()),
            (Level::Ok, "consumers keep up")
        );
        let empty = Consumption {
            pending: 0,
            processing: 0,
            oldest_pending_seconds: None,
            completed: 0,
            since_delivery_seconds: None,
            pending_before: None,
        };
        assert_eq!(consumer_lag_t(&empty).0, Level::Ok);
    }

    #[test]
    fn lag_idle_backlogs_missing_acks_and_growth_are_reported() {
        let old = Consumption {
            oldest_pending_seconds: Some(400.0),
            ..consumption()
        };
        assert_eq!(consumer_lag_t(&old).0, Level::Critical);
        let idle = Consumption {
            since_delivery_seconds: Some(900.0),
            completed: 0,
            processing: 0,
            ..consumption()
        };
        assert_eq!(
            consumer_lag_t(&idle),
            (Level::Warn, "a backlog no one polls")
        );
        let stuck = Consumption {
            completed: 0,
            ..consumption()
        };
        assert_eq!(
            consumer_lag_t(&stuck),
            (Level::Warn, "polls but no acknowledgements")
        );
        let rising = Consumption {
            pending: 1_000,
            pending_before: Some(100),
            ..consumption()
        };
        assert_eq!(consumer_lag_t(&rising).0, Level::Warn);
    }
}
