//! `mq_health`: whether this database's queues are looked after and consumed, and whether the
//! server keeps them lean. The figures come from the maintained counters, the metrics samples
//! and PostgreSQL's statistics (no scan of the queue tables); `mq_core::health` judges them.

use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::json;

use mq_core::health::{self, Consumption, Level};

use crate::api::monitoring;
use crate::pg::statements::Statement;
use crate::pg::{clock, settings, workers};

type Check = (String, String, JsonB);

fn check(name: &str, level: Level, detail: serde_json::Value) -> Check {
    (name.to_owned(), level.as_str().to_owned(), JsonB(detail))
}

fn seconds_between(later: TimestampWithTimeZone, earlier: TimestampWithTimeZone) -> f64 {
    (clock::unix_micros(later) - clock::unix_micros(earlier)) as f64 / 1e6
}

/// One row per check: `worker`, then `consumer_lag` and `dead_letters` per topic and consumer
/// group, then `snapshot_age` and `dead_tuples`. status is ok, warn or critical (the
/// thresholds are in the README and in `mq_core::health`); detail holds the figures.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::type_complexity)] // pgrx needs the named columns spelled out here
fn mq_health() -> TableIterator<
    'static,
    (
        name!(check, String),
        name!(status, String),
        name!(detail, JsonB),
    ),
> {
    let now = clock::now();
    let mut checks = Vec::new();
    Spi::connect_mut(|client| {
        let cluster = Statement::HealthCluster.run(client, &[now.into()]);
        let cluster = cluster.first().expect("health/cluster.sql returns one row");

        // The worker: running in this database, and taking its snapshots.
        let interval_s = f64::from(settings::METRICS_SAMPLE_INTERVAL.get()) / 1e3;
        let taken_ago = cluster.get::<f64>("snapshot_taken_ago");
        let served = workers::serves_this_database();
        let level = if !served {
            if workers::preloaded() {
                Level::Critical
            } else {
                Level::Warn
            }
        } else {
            taken_ago.map_or(Level::Ok, |ago| {
                health::MISSED_SNAPSHOTS.level(ago / interval_s)
            })
        };
        checks.push(check(
            "worker",
            level,
            json!({
                "running": served,
                "preloaded": workers::preloaded(),
                "last_snapshot_seconds_ago": taken_ago,
                "sample_interval_seconds": interval_s,
            }),
        ));

        // Consumers, per topic and group, over the last WINDOW_SECONDS.
        let window = pgrx::datum::Interval::from_micros(health::WINDOW_SECONDS * 1_000_000);
        let last_delivery: std::collections::HashMap<(String, String), TimestampWithTimeZone> =
            Statement::CurrentMetrics
                .run(client, &[now.into(), None::<&str>.into()])
                .iter()
                .filter_map(|row| {
                    let at = row.get::<TimestampWithTimeZone>("last_delivery_at")?;
                    let group = row.get::<String>("consumer_group").unwrap_or_default();
                    Some(((row.value::<String>("topic"), group), at))
                })
                .collect();
        let start = clock::minus(now, window);
        // The last snapshot at or before the window's start; none (a younger database): every
        // dead letter so far is in the window.
        let baseline_at = Statement::HealthBaseline
            .run(client, &[start.into()])
            .first()
            .and_then(|row| row.get::<TimestampWithTimeZone>("sampled_at"));
        let before = baseline_at
            .map(|at| monitoring::samples_at(client, at))
            .unwrap_or_default();
        let lag_thresholds = health::consumer_lag_seconds(settings::HEALTH_LAG_WARN.get());
        for (topic, rates) in monitoring::current_with_rates(client, now, window) {
            let group = topic.group.clone().unwrap_or_default();
            let key = (topic.topic.clone(), group.clone());
            let baseline = before.get(&topic.series_key());
            let consumption = Consumption {
                pending: topic.pending,
                processing: topic.processing,
                oldest_pending_seconds: topic.oldest_pending_age_micros.map(|m| m as f64 / 1e6),
                completed: rates.consumed,
                since_delivery_seconds: last_delivery.get(&key).map(|at| seconds_between(now, *at)),
                pending_before: baseline.map(|b| b.pending),
            };
            let (level, reason) = health::consumer_lag(&consumption, lag_thresholds);
            checks.push(check(
                "consumer_lag",
                level,
                json!({
                    "topic": topic.topic,
                    "consumer_group": topic.group,
                    "reason": reason,
                    "pending": topic.pending,
                    "processing": topic.processing,
                    "oldest_pending_seconds": consumption.oldest_pending_seconds,
                    "completed_in_window": rates.consumed,
                    "last_delivery_seconds_ago": consumption.since_delivery_seconds,
                    "pending_at_window_start": consumption.pending_before,
                }),
            ));
            let added = baseline.map_or(topic.dead_letter_total, |b| {
                topic.dead_letter_total - b.dead_letter_total
            });
            checks.push(check(
                "dead_letters",
                health::DEAD_LETTERS_ADDED.level(added as f64),
                json!({
                    "topic": topic.topic,
                    "consumer_group": topic.group,
                    "added_in_window": added,
                    "not_replayed": topic.dead_letters,
                }),
            ));
        }

        // The oldest snapshot of the cluster.
        let age = cluster.get::<f64>("snapshot_age");
        checks.push(check(
            "snapshot_age",
            age.map_or(Level::Ok, |a| {
                health::snapshot_age_seconds(settings::HEALTH_SNAPSHOT_WARN.get()).level(a)
            }),
            json!({
                "seconds": age,
                "pid": cluster.get::<i32>("snapshot_pid"),
                "database": cluster.get::<String>("snapshot_database"),
                "role": cluster.get::<String>("snapshot_role"),
                "state": cluster.get::<String>("snapshot_state"),
                "application_name": cluster.get::<String>("snapshot_application"),
            }),
        ));

        // Dead tuples of the worst of pg_mq's tables.
        let dead = cluster.get::<i64>("dead_tuples").unwrap_or(0);
        let live = cluster.get::<i64>("live_tuples").unwrap_or(0);
        let share = dead as f64 / (dead + live).max(1) as f64;
        let level = if dead >= health::DEAD_TUPLES_MIN {
            health::DEAD_TUPLE_SHARE.level(share)
        } else {
            Level::Ok
        };
        checks.push(check(
            "dead_tuples",
            level,
            json!({
                "table": cluster.get::<String>("dead_table").map(|t| format!("mq.{t}")),
                "dead_tuples": dead,
                "live_tuples": live,
                "dead_share": share,
                "last_autovacuum": cluster
                    .get::<TimestampWithTimeZone>("last_autovacuum")
                    .map(|t| clock::unix_micros(t) / 1_000_000),
            }),
        ));
    });
    TableIterator::new(checks)
}
