//! `mq_metrics`, `mq_metrics_prometheus`, `mq_dashboard` and `mq_metrics_sample`: the glue
//! between the metrics tables and the pure `metrics`, `prometheus` and `dashboard` modules.

use std::collections::HashMap;

use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::JsonB;

use mq_core::error::MqError;
use mq_core::latency::{self, Histogram, Latency};
use mq_core::metrics::{self, Baseline, Rates, TopicSnapshot};
use mq_core::{dashboard, prometheus, validation};

use crate::engine::{routing, sampling, topics};
use crate::pg::clock;
use crate::pg::raise::OrRaise;
use crate::pg::spi::Rows;
use crate::pg::statements::Statement;

/// The metrics statements' helpers, in schema mq (pgrx's `CREATE SCHEMA IF NOT EXISTS mq` for
/// them follows sql/schema/schema.sql's, so it changes nothing).
#[pg_schema]
mod mq {
    use mq_core::latency;
    use pgrx::prelude::*;

    /// `mq.latency_histogram(seconds)`: the counts per latency bucket of the values (NULL
    /// when there are none); the claim and completion statements count their rows with it.
    #[pg_extern(immutable, parallel_safe)]
    #[search_path(pg_catalog, pg_temp)]
    fn latency_histogram(seconds: Option<Vec<Option<f64>>>) -> Option<Vec<i64>> {
        latency::bucket_counts(seconds?.into_iter().flatten())
    }

    /// `mq.histogram_add(a, b)`: two latency histograms added bucket by bucket (either may
    /// be NULL); the state function of the aggregate mq.histogram_sum.
    #[pg_extern(immutable, parallel_safe)]
    #[search_path(pg_catalog, pg_temp)]
    fn histogram_add(a: Option<Vec<i64>>, b: Option<Vec<i64>>) -> Option<Vec<i64>> {
        latency::add(a.as_deref(), b.as_deref())
    }
}

/// Reads current_metrics.sql or samples_between.sql rows (the same columns).
fn snapshots(rows: Rows<'_>) -> Vec<TopicSnapshot> {
    rows.iter()
        .map(|row| {
            let sampled_at: TimestampWithTimeZone = row.value("sampled_at");
            TopicSnapshot {
                topic: row.value("topic"),
                group: row.get("consumer_group"),
                at_micros: clock::unix_micros(sampled_at),
                pending: row.value("pending"),
                delayed: row.value("delayed"),
                processing: row.value("processing"),
                consumed_total: row.value("consumed_total"),
                failed_total: row.value("failed_total"),
                dead_letter_total: row.value("dead_letter_total"),
                expired_total: row.value("expired_total"),
                dead_letters: row.get("dead_letters").unwrap_or(0),
                deduplicated_total: row.get("deduplicated_total").unwrap_or(0),
                oldest_pending_age_micros: row.get::<Interval>("oldest_pending_age").map(micros),
                paused: false,
                latency: Latency {
                    delivery: Histogram {
                        counts: row.get("delivery_latency").unwrap_or_default(),
                        sum: row.get("delivery_latency_sum").unwrap_or(0.0),
                    },
                    processing: Histogram {
                        counts: row.get("processing_latency").unwrap_or_default(),
                        sum: row.get("processing_latency_sum").unwrap_or(0.0),
                    },
                },
            }
        })
        .collect()
}

/// Every topic's (or one topic's) gauges and counters at `now`.
pub fn current(
    client: &mut SpiClient<'_>,
    now: TimestampWithTimeZone,
    topic: Option<&str>,
) -> Vec<TopicSnapshot> {
    let mut rows = snapshots(Statement::CurrentMetrics.run(client, &[now.into(), topic.into()]));
    for row in &mut rows {
        row.paused = topics::is_paused(&row.topic)
            || row
                .group
                .as_deref()
                .is_some_and(|g| routing::group_paused(g, &row.topic));
    }
    rows
}

/// The samples of the snapshot taken at `at`, by topic and group.
pub(crate) fn samples_at(
    client: &mut SpiClient<'_>,
    at: TimestampWithTimeZone,
) -> HashMap<String, TopicSnapshot> {
    snapshots(Statement::SamplesBetween.run(client, &[at.into(), at.into()]))
        .into_iter()
        .map(|s| (s.series_key(), s))
        .collect()
}

/// Each topic's values now with its rates over `window`, measured from the snapshot at (or
/// else just after) the window's start; its latency histograms are over the same span (all of
/// them when there is no snapshot yet, or the topic was not in it).
pub(crate) fn current_with_rates(
    client: &mut SpiClient<'_>,
    now: TimestampWithTimeZone,
    window: Interval,
) -> Vec<(TopicSnapshot, Rates)> {
    let topics = current(client, now, None);
    let start = clock::minus(now, window);
    let baseline_at = Statement::WindowBaseline
        .run(client, &[start.into(), now.into()])
        .first()
        .map(|row| row.value::<TimestampWithTimeZone>("sampled_at"));
    let baseline_rows = baseline_at
        .map(|at| samples_at(client, at))
        .unwrap_or_default();
    topics
        .into_iter()
        .map(|mut t| {
            if let Some(before) = baseline_rows.get(&t.series_key()) {
                t.latency = Latency {
                    delivery: latency::since(&t.latency.delivery, &before.latency.delivery),
                    processing: latency::since(&t.latency.processing, &before.latency.processing),
                };
            }
            let baseline = baseline_at.map(|at| {
                baseline_rows
                    .get(&t.series_key())
                    .map(TopicSnapshot::baseline)
                    .unwrap_or_else(|| Baseline::zero(clock::unix_micros(at)))
            });
            let rates = metrics::rates(&t, baseline);
            (t, rates)
        })
        .collect()
}

fn positive(argument: &'static str, interval: Option<Interval>) -> Interval {
    let interval = validation::required(argument, interval).or_raise();
    if clock::parts(interval).comparable_micros() <= 0 {
        crate::pg::raise::raise(MqError::invalid(argument, "must be longer than zero"));
    }
    interval
}

fn micros(interval: Interval) -> i64 {
    i64::try_from(clock::parts(interval).comparable_micros()).unwrap_or(i64::MAX)
}

/// One row per topic (and per consumer group receiving it: point-to-point messages have
/// consumer_group NULL): the queue's gauges, the counters (which never go down), rates per
/// second over `window` (measured from the metrics samples), and whether it is paused.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::type_complexity)] // pgrx needs the named columns spelled out here
fn mq_metrics(
    window: default!(Option<Interval>, "'5 minutes'"),
) -> TableIterator<
    'static,
    (
        name!(topic, String),
        name!(consumer_group, Option<String>),
        name!(pending, i64),
        name!(delayed, i64),
        name!(processing, i64),
        name!(consumed_total, i64),
        name!(failed_total, i64),
        name!(dead_letter_total, i64),
        name!(consume_rate, Option<f64>),
        name!(failure_rate, Option<f64>),
        name!(dlq_rate, Option<f64>),
        name!(success_ratio, Option<f64>),
        name!(oldest_pending_age, Option<Interval>),
        name!(expired_total, i64),
        name!(dead_letters, i64),
        name!(paused, bool),
        name!(deduplicated_total, i64),
        name!(delivery_latency_p50, Option<f64>),
        name!(delivery_latency_p95, Option<f64>),
        name!(delivery_latency_p99, Option<f64>),
        name!(processing_latency_p50, Option<f64>),
        name!(processing_latency_p95, Option<f64>),
        name!(processing_latency_p99, Option<f64>),
    ),
> {
    let window = positive("window", window);
    let rows = Spi::connect_mut(|client| current_with_rates(client, clock::now(), window));
    TableIterator::new(rows.into_iter().map(|(t, r)| {
        (
            t.topic,
            t.group,
            t.pending,
            t.delayed,
            t.processing,
            t.consumed_total,
            t.failed_total,
            t.dead_letter_total,
            r.consume_rate,
            r.failure_rate,
            r.dlq_rate,
            r.success_ratio,
            t.oldest_pending_age_micros.map(Interval::from_micros),
            t.expired_total,
            t.dead_letters,
            t.paused,
            t.deduplicated_total,
            latency::quantile(&t.latency.delivery, 0.5),
            latency::quantile(&t.latency.delivery, 0.95),
            latency::quantile(&t.latency.delivery, 0.99),
            latency::quantile(&t.latency.processing, 0.5),
            latency::quantile(&t.latency.processing, 0.95),
            latency::quantile(&t.latency.processing, 0.99),
        )
    }))
}

/// The current metrics in the Prometheus text exposition format.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn mq_metrics_prometheus() -> String {
    let topics = Spi::connect_mut(|client| current(client, clock::now(), None));
    prometheus::render(&topics)
}

/// A JSON document for a dashboard: current values and rates over `window`, and time series
/// with one point per `step` built from the metrics samples.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn mq_dashboard(
    window: default!(Option<Interval>, "'5 minutes'"),
    step: default!(Option<Interval>, "'1 minute'"),
) -> JsonB {
    let window = positive("window", window);
    let step = positive("step", step);
    let (window_us, step_us) = (micros(window), micros(step));
    if window_us / step_us > dashboard::MAX_POINTS {
        crate::pg::raise::raise(MqError::invalid(
            "step",
            format!(
                "is too small for the window: at most {} points per series",
                dashboard::MAX_POINTS
            ),
        ));
    }
    let now = clock::now();
    let (current, snapshot_times, samples) = Spi::connect_mut(|client| {
        let current = current_with_rates(client, now, window);
        let from = clock::plus_micros(now, -(window_us.saturating_add(step_us)));
        let times: Vec<i64> = Statement::SnapshotsSince
            .run(client, &[from.into()])
            .iter()
            .map(|row| clock::unix_micros(row.value("sampled_at")))
            .collect();
        let samples = snapshots(Statement::SamplesBetween.run(client, &[from.into(), now.into()]));
        (current, times, samples)
    });
    JsonB(dashboard::build(
        clock::unix_micros(now),
        window_us,
        step_us,
        &current,
        &snapshot_times,
        &samples,
    ))
}

/// Records a metrics sample now (what the background worker does every
/// `pg_mq.metrics_sample_interval`); returns the number of topics sampled.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn mq_metrics_sample() -> i64 {
    Spi::connect_mut(sampling::take_sample)
}
