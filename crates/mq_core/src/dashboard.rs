//! The JSON document of `mq_dashboard()`: current values and time series built from the
//! metrics samples. Pure Rust; the document's shape is the types below, serialized with serde.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use serde_json::Value;

use crate::metrics::{self, Rates, TopicSnapshot};

/// Largest number of points a time series may have.
pub const MAX_POINTS: i64 = 10_000;

/// The whole document.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dashboard {
    pub timestamp: String,
    pub current: Current,
    pub time_series: TimeSeries,
}

/// The values now, with rates over the window.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Current {
    pub queue_depth: Counted,
    pub consumed_total: Counted,
    pub failed_total: Counted,
    pub dlq_total: Counted,
    pub expired_total: Counted,
    pub consume_rate: Rate,
    pub failure_rate: Rate,
    pub dlq_rate: Rate,
    pub success_ratio: Option<f64>,
    pub success_ratio_by_topic: BTreeMap<String, Option<f64>>,
}

/// A count per topic and in all.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counted {
    pub by_topic: BTreeMap<String, i64>,
    pub total: i64,
}

/// A rate per topic (null: no data) and in all (null when no topic has data).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rate {
    pub by_topic: BTreeMap<String, Option<f64>>,
    pub total: Option<f64>,
}

/// One point per step of each series.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeSeries {
    pub queue_depth: Vec<Point>,
    pub consume_rate: Vec<Point>,
    pub failure_rate: Vec<Point>,
    pub dlq_rate: Vec<Point>,
}

/// A moment and each topic's value then (topics without data are absent).
#[derive(Debug, Serialize)]
pub struct Point {
    pub timestamp: String,
    #[serde(flatten)]
    pub values: BTreeMap<String, Value>,
}

/// Builds the dashboard document.
///
/// `current` holds each topic's values now with its rates over the window; `snapshots` the
/// times of the metrics snapshots from at least one step before the window up to now, and
/// `samples` their per-topic rows (a topic without a row in a snapshot had nothing then).
pub fn build(
    now_micros: i64,
    window_micros: i64,
    step_micros: i64,
    current: &[(TopicSnapshot, Rates)],
    snapshots: &[i64],
    samples: &[TopicSnapshot],
) -> Value {
    let document = Dashboard {
        timestamp: rfc3339(now_micros),
        current: current_section(current),
        time_series: time_series(now_micros, window_micros, step_micros, snapshots, samples),
    };
    serde_json::to_value(document).expect("the dashboard document serializes")
}

fn counted(current: &[(TopicSnapshot, Rates)], value: impl Fn(&TopicSnapshot) -> i64) -> Counted {
    Counted {
        by_topic: current
            .iter()
            .map(|(t, _)| (t.series_key(), value(t)))
            .collect(),
        total: current.iter().map(|(t, _)| value(t)).sum(),
    }
}

fn rate(current: &[(TopicSnapshot, Rates)], value: impl Fn(&Rates) -> Option<f64>) -> Rate {
    let known: Vec<f64> = current.iter().filter_map(|(_, r)| value(r)).collect();
    Rate {
        by_topic: current
            .iter()
            .map(|(t, r)| (t.series_key(), value(r)))
            .collect(),
        total: (!known.is_empty()).then(|| known.iter().sum()),
    }
}

fn current_section(current: &[(TopicSnapshot, Rates)]) -> Current {
    let consumed: i64 = current.iter().map(|(_, r)| r.consumed).sum();
    let failed: i64 = current.iter().map(|(_, r)| r.failed).sum();
    Current {
        queue_depth: counted(current, |t| t.pending),
        consumed_total: counted(current, |t| t.consumed_total),
        failed_total: counted(current, |t| t.failed_total),
        dlq_total: counted(current, |t| t.dead_letter_total),
        expired_total: counted(current, |t| t.expired_total),
        consume_rate: rate(current, |r| r.consume_rate),
        failure_rate: rate(current, |r| r.failure_rate),
        dlq_rate: rate(current, |r| r.dlq_rate),
        success_ratio: metrics::success_ratio(consumed, failed),
        success_ratio_by_topic: current
            .iter()
            .map(|(t, r)| (t.series_key(), r.success_ratio))
            .collect(),
    }
}

/// One point per step, ending at now. At each point every topic seen in the samples has its
/// queue depth from the last snapshot at or before the point, and its rates between that
/// snapshot and the last one at or before a step earlier. Points before the first snapshot
/// carry only their timestamp.
fn time_series(
    now: i64,
    window: i64,
    step: i64,
    snapshots: &[i64],
    samples: &[TopicSnapshot],
) -> TimeSeries {
    let mut snapshots = snapshots.to_vec();
    snapshots.sort_unstable();
    let keys: Vec<String> = samples.iter().map(TopicSnapshot::series_key).collect();
    let topics: BTreeSet<&str> = keys.iter().map(String::as_str).collect();
    let rows: HashMap<(&str, i64), &TopicSnapshot> = keys
        .iter()
        .zip(samples)
        .map(|(k, s)| ((k.as_str(), s.at_micros), s))
        .collect();
    let snapshot_at = |t: i64| -> Option<i64> {
        let idx = snapshots.partition_point(|at| *at <= t);
        idx.checked_sub(1).map(|i| snapshots[i])
    };
    let sample = |topic: &str, at: i64| -> TopicSnapshot {
        rows.get(&(topic, at))
            .map(|s| (*s).clone())
            .unwrap_or_else(|| TopicSnapshot::empty_series(topic, at))
    };

    let points = (window / step).clamp(0, MAX_POINTS);
    let mut series = TimeSeries::default();
    for k in 1..=points {
        let t = now - window + k * step;
        let mut values: [BTreeMap<String, Value>; 4] = Default::default();
        if let Some(at) = snapshot_at(t) {
            let before = snapshot_at(t - step);
            for topic in &topics {
                let now_sample = sample(topic, at);
                values[0].insert((*topic).to_owned(), now_sample.pending.into());
                let r = metrics::rates(&now_sample, before.map(|b| sample(topic, b).baseline()));
                for (i, rate) in [(1, r.consume_rate), (2, r.failure_rate), (3, r.dlq_rate)] {
                    if let Some(rate) = rate {
                        values[i].insert((*topic).to_owned(), rate.into());
                    }
                }
            }
        }
        let [depth, consume, failure, dlq] = values;
        let point = |values| Point {
            timestamp: rfc3339(t),
            values,
        };
        series.queue_depth.push(point(depth));
        series.consume_rate.push(point(consume));
        series.failure_rate.push(point(failure));
        series.dlq_rate.push(point(dlq));
    }
    series
}

/// Microseconds since the Unix epoch as an RFC 3339 UTC timestamp with milliseconds.
pub fn rfc3339(micros: i64) -> String {
    let millis = micros.div_euclid(1_000);
    let secs = millis.div_euclid(1_000);
    let ms = millis.rem_euclid(1_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        sod / 3_600,
        sod % 3_600 / 60,
        sod % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (H. Hinnant's civil_from_days).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000;

    fn snap(topic: &str, at_s: i64, pending: i64, consumed: i64, failed: i64) -> TopicSnapshot {
        TopicSnapshot {
            topic: topic.into(),
            group: None,
            at_micros: at_s * S,
            pending,
            delayed: 0,
            processing: 0,
            consumed_total: consumed,
            failed_total: failed,
            dead_letter_total: 0,
            expired_total: 0,
            dead_letters: 0,
            deduplicated_total: 0,
            oldest_pending_age_micros: None,
            paused: false,
            latency: Default::default(),
        }
    }

    #[test]
    fn rfc3339_formats_utc_with_milliseconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339(951_782_400 * S + 123_456),
            "2000-02-29T00:00:00.123Z"
        );
        assert_eq!(rfc3339(1_795_262_400 * S), "2026-11-21T12:00:00.000Z");
        assert_eq!(rfc3339(-S), "1969-12-31T23:59:59.000Z");
    }

    #[test]
    fn document_has_the_documented_shape() {
        let now = snap("a", 120, 4, 30, 10);
        let rates = metrics::rates(&now, Some(snap("a", 60, 0, 0, 0).baseline()));
        let doc = build(
            120 * S,
            60 * S,
            30 * S,
            &[(now.clone(), rates)],
            &[120 * S],
            &[now],
        );
        assert_eq!(doc["timestamp"], "1970-01-01T00:02:00.000Z");
        let current = &doc["current"];
        assert_eq!(current["queueDepth"]["byTopic"]["a"], 4);
        assert_eq!(current["queueDepth"]["total"], 4);
        for key in [
            "consumedTotal",
            "failedTotal",
            "dlqTotal",
            "consumeRate",
            "failureRate",
            "dlqRate",
        ] {
            assert!(current[key]["byTopic"].is_object(), "{key}");
            assert!(!current[key]["total"].is_null(), "{key}");
        }
        assert_eq!(current["consumeRate"]["byTopic"]["a"], 0.5);
        assert_eq!(current["successRatio"], 0.75);
        assert_eq!(current["successRatioByTopic"]["a"], 0.75);
        for key in ["queueDepth", "consumeRate", "failureRate", "dlqRate"] {
            assert_eq!(doc["timeSeries"][key].as_array().unwrap().len(), 2, "{key}");
        }
    }

    #[test]
    fn time_series_steps_through_the_snapshots() {
        let snapshots = [0, 10 * S, 20 * S];
        let samples = [
            snap("a", 0, 5, 0, 0),
            snap("a", 10, 7, 20, 0),
            snap("a", 20, 2, 40, 10),
            snap("b", 20, 1, 4, 0),
        ];
        let series =
            serde_json::to_value(time_series(20 * S, 20 * S, 10 * S, &snapshots, &samples))
                .unwrap();
        let depth = series["queueDepth"].as_array().unwrap();
        assert_eq!(depth.len(), 2);
        assert_eq!(depth[0]["timestamp"], "1970-01-01T00:00:10.000Z");
        assert_eq!(depth[0]["a"], 7);
        assert_eq!(
            depth[0]["b"], 0,
            "b was absent from the snapshot: nothing waiting"
        );
        assert_eq!(depth[1]["a"], 2);
        assert_eq!(depth[1]["b"], 1);
        let consume = series["consumeRate"].as_array().unwrap();
        assert_eq!(consume[0]["a"], 2.0);
        assert_eq!(consume[1]["a"], 2.0);
        assert_eq!(consume[1]["b"], 0.4, "b counted from zero");
        assert_eq!(series["failureRate"][1]["a"], 1.0);
    }

    #[test]
    fn points_before_the_first_snapshot_carry_only_a_timestamp() {
        let series = serde_json::to_value(time_series(
            30 * S,
            30 * S,
            10 * S,
            &[25 * S],
            &[snap("a", 25, 3, 0, 0)],
        ))
        .unwrap();
        let depth = series["queueDepth"].as_array().unwrap();
        assert_eq!(depth[0].as_object().unwrap().len(), 1);
        assert_eq!(depth[1].as_object().unwrap().len(), 1);
        assert_eq!(depth[2]["a"], 3);
        assert!(
            series["consumeRate"][2].get("a").is_none(),
            "no snapshot a step earlier"
        );
    }

    #[test]
    fn no_data_gives_empty_series_and_null_ratio() {
        let doc = build(100 * S, 60 * S, 60 * S, &[], &[], &[]);
        assert_eq!(doc["current"]["successRatio"], Value::Null);
        assert_eq!(doc["current"]["queueDepth"]["total"], 0);
        assert_eq!(doc["current"]["consumeRate"]["total"], Value::Null);
        let depth = doc["timeSeries"]["queueDepth"].as_array().unwrap();
        assert_eq!(depth.len(), 1);
        assert_eq!(depth[0].as_object().unwrap().len(), 1, "only the timestamp");
    }
}
