//! Metrics arithmetic: per-topic values, rates over a window, success ratio. Pure Rust.

/// The counters and gauges of one topic at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicSnapshot {
    pub topic: String,
    /// The consumer group whose deliveries these are; None for point-to-point messages.
    pub group: Option<String>,
    /// Microseconds since the Unix epoch.
    pub at_micros: i64,
    /// PENDING and due.
    pub pending: i64,
    /// Not deliverable yet (scheduled, waiting for a retry, or WAITING behind its ordering key).
    pub delayed: i64,
    pub processing: i64,
    pub consumed_total: i64,
    pub failed_total: i64,
    pub dead_letter_total: i64,
    /// Messages that expired before they were completed.
    pub expired_total: i64,
    /// Dead letters not replayed (a gauge).
    pub dead_letters: i64,
    /// Publishes that returned an earlier message of their dedup key.
    pub deduplicated_total: i64,
    /// How long the oldest due message has been waiting, in microseconds.
    pub oldest_pending_age_micros: Option<i64>,
    /// Whether the topic is paused (not a sampled value: the catalog's, now).
    pub paused: bool,
    /// The latency histograms (cumulative, like the counters; empty in samples).
    pub latency: crate::latency::Latency,
}

/// The counter values of a topic at an earlier moment (a metrics sample).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Baseline {
    pub at_micros: i64,
    pub consumed_total: i64,
    pub failed_total: i64,
    pub dead_letter_total: i64,
}

/// Per-second rates between a baseline and now, and the share of successful deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Rates {
    pub consume_rate: Option<f64>,
    pub failure_rate: Option<f64>,
    pub dlq_rate: Option<f64>,
    /// consumed / (consumed + failed) over the same span; None when neither happened.
    pub success_ratio: Option<f64>,
    /// Completed and failed deliveries over the span (0 without a baseline).
    pub consumed: i64,
    pub failed: i64,
}

impl Baseline {
    /// A topic absent from a snapshot had nothing: all its counters were zero.
    pub fn zero(at_micros: i64) -> Baseline {
        Baseline {
            at_micros,
            consumed_total: 0,
            failed_total: 0,
            dead_letter_total: 0,
        }
    }
}

impl TopicSnapshot {
    /// A topic absent from a snapshot: nothing waiting, nothing counted.
    pub fn empty(topic: &str, at_micros: i64) -> TopicSnapshot {
        TopicSnapshot {
            topic: topic.to_owned(),
            group: None,
            at_micros,
            pending: 0,
            delayed: 0,
            processing: 0,
            consumed_total: 0,
            failed_total: 0,
            dead_letter_total: 0,
            expired_total: 0,
            dead_letters: 0,
            deduplicated_total: 0,
            oldest_pending_age_micros: None,
            paused: false,
            latency: Default::default(),
        }
    }

    /// The name of this topic's (and group's) series in documents keyed by one string: the
    /// topic, or `topic|group` (`|` cannot appear in either name).
    pub fn series_key(&self) -> String {
        match &self.group {
            None => self.topic.clone(),
            Some(group) => format!("{}|{group}", self.topic),
        }
    }

    /// The snapshot of series `key` (see [`series_key`](Self::series_key)) with nothing in it.
    pub fn empty_series(key: &str, at_micros: i64) -> TopicSnapshot {
        let mut empty = TopicSnapshot::empty(key, at_micros);
        if let Some((topic, group)) = key.split_once('|') {
            empty.topic = topic.to_owned();
            empty.group = Some(group.to_owned());
        }
        empty
    }

    pub fn baseline(&self) -> Baseline {
        Baseline {
            at_micros: self.at_micros,
            consumed_total: self.consumed_total,
            failed_total: self.failed_total,
            dead_letter_total: self.dead_letter_total,
        }
    }
}

/// Rates from `baseline` to `now`. No baseline, or none strictly earlier than now: no data.
/// A counter that went down (it never should) counts as no change rather than a negative rate.
pub fn rates(now: &TopicSnapshot, baseline: Option<Baseline>) -> Rates {
    let Some(base) = baseline else {
        return Rates::default();
    };
    let elapsed_micros = now.at_micros - base.at_micros;
    if elapsed_micros <= 0 {
        return Rates::default();
    }
    let seconds = elapsed_micros as f64 / 1e6;
    let consumed = (now.consumed_total - base.consumed_total).max(0);
    let failed = (now.failed_total - base.failed_total).max(0);
    let dead = (now.dead_letter_total - base.dead_letter_total).max(0);
    Rates {
        consume_rate: Some(consumed as f64 / seconds),
        failure_rate: Some(failed as f64 / seconds),
        dlq_rate: Some(dead as f64 / seconds),
        success_ratio: success_ratio(consumed, failed),
        consumed,
        failed,
    }
}

/// consumed / (consumed + failed), or None when both are zero.
pub fn success_ratio(consumed: i64, failed: i64) -> Option<f64> {
    let attempts = consumed + failed;
    (attempts > 0).then(|| consumed as f64 / attempts as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(at_s: i64, consumed: i64, failed: i64, dead: i64) -> TopicSnapshot {
        TopicSnapshot {
            topic: "t".into(),
            group: None,
            at_micros: at_s * 1_000_000,
            pending: 0,
            delayed: 0,
            processing: 0,
            consumed_total: consumed,
            failed_total: failed,
            dead_letter_total: dead,
            expired_total: 0,
            dead_letters: 0,
            deduplicated_total: 0,
            oldest_pending_age_micros: None,
            paused: false,
            latency: Default::default(),
        }
    }

    #[test]
    fn rates_are_per_second_over_the_span() {
        let base = snapshot(100, 10, 2, 1).baseline();
        let r = rates(&snapshot(110, 60, 7, 3), Some(base));
        assert_eq!(r.consume_rate, Some(5.0));
        assert_eq!(r.failure_rate, Some(0.5));
        assert_eq!(r.dlq_rate, Some(0.2));
        assert_eq!(r.success_ratio, Some(50.0 / 55.0));
    }

    #[test]
    fn no_baseline_or_no_elapsed_time_means_no_data() {
        assert_eq!(rates(&snapshot(10, 5, 0, 0), None), Rates::default());
        let same = snapshot(10, 5, 0, 0);
        assert_eq!(rates(&same, Some(same.baseline())), Rates::default());
    }

    #[test]
    fn idle_topic_has_zero_rates_and_no_ratio() {
        let r = rates(
            &snapshot(20, 5, 1, 0),
            Some(snapshot(10, 5, 1, 0).baseline()),
        );
        assert_eq!(r.consume_rate, Some(0.0));
        assert_eq!(r.success_ratio, None);
    }

    #[test]
    fn a_lower_counter_is_no_change() {
        let r = rates(
            &snapshot(20, 3, 0, 0),
            Some(snapshot(10, 5, 0, 0).baseline()),
        );
        assert_eq!(r.consume_rate, Some(0.0));
    }

    #[test]
    fn a_topic_new_since_the_baseline_counts_from_zero() {
        let r = rates(&snapshot(12, 6, 2, 0), Some(Baseline::zero(10 * 1_000_000)));
        assert_eq!(r.consume_rate, Some(3.0));
        assert_eq!(r.success_ratio, Some(0.75));
        assert_eq!(TopicSnapshot::empty("t", 5).baseline(), Baseline::zero(5));
    }

    #[test]
    fn success_ratio_bounds() {
        assert_eq!(success_ratio(0, 0), None);
        assert_eq!(success_ratio(3, 0), Some(1.0));
        assert_eq!(success_ratio(0, 3), Some(0.0));
        assert_eq!(success_ratio(3, 1), Some(0.75));
    }
}
