//! `mq_consumers`: what each consumer (mq_poll's consumer_id) of each topic and consumer group
//! did and holds. Claims, completions and failures are counted by the statements that make
//! them (a consumer_id on their mq.metric_counts row, no row of its own) and folded into
//! mq.consumer_totals by the worker; in-flight deliveries are read through the lock-expiry
//! index. Nothing is kept outside the tables, so a crash loses nothing committed; a poll that
//! claims nothing writes nothing, so `last_poll` is the last poll that claimed something.

use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;

use mq_core::health;

use crate::pg::clock;
use crate::pg::statements::Statement;

fn seconds_since(now: TimestampWithTimeZone, at: Option<TimestampWithTimeZone>) -> Option<f64> {
    at.map(|at| (clock::unix_micros(now) - clock::unix_micros(at)) as f64 / 1e6)
}

/// One row per consumer, topic and consumer group (NULL for point-to-point), of `topic` when
/// given: first seen, last poll that claimed, last acknowledgement, in flight now, the totals
/// of its claims, completions, failures (mq_fail) and expired locks, its last error, and its
/// status: active, idle or stale.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::type_complexity)] // pgrx needs the named columns spelled out here
fn mq_consumers(
    topic: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(consumer_id, String),
        name!(topic, String),
        name!(consumer_group, Option<String>),
        name!(first_seen, TimestampWithTimeZone),
        name!(last_poll, Option<TimestampWithTimeZone>),
        name!(last_ack, Option<TimestampWithTimeZone>),
        name!(in_flight, i64),
        name!(claimed, i64),
        name!(completed, i64),
        name!(failed, i64),
        name!(lease_expired, i64),
        name!(last_error, Option<String>),
        name!(last_error_at, Option<TimestampWithTimeZone>),
        name!(status, String),
    ),
> {
    let topic = topic
        .map(|t| mq_core::validation::topic(Some(t)))
        .transpose();
    let topic = crate::pg::raise::OrRaise::or_raise(topic);
    let now = clock::now();
    let rows = Spi::connect_mut(|client| {
        Statement::Consumers
            .run(client, &[topic.into(), now.into()])
            .iter()
            .map(|row| {
                let last_claim = row.get::<TimestampWithTimeZone>("last_claim_at");
                let last_ack = row.get::<TimestampWithTimeZone>("last_ack_at");
                let lost_at = row.get::<TimestampWithTimeZone>("last_lease_expired_at");
                let activity = match (last_claim, last_ack) {
                    (Some(a), Some(b)) => Some(if clock::unix_micros(a) >= clock::unix_micros(b) {
                        a
                    } else {
                        b
                    }),
                    (a, b) => a.or(b),
                };
                let lost_last = lost_at.is_some_and(|lost| {
                    activity.is_none_or(|a| clock::unix_micros(lost) >= clock::unix_micros(a))
                });
                let in_flight: i64 = row.value("in_flight");
                let status = health::consumer_status(
                    seconds_since(now, activity),
                    in_flight,
                    row.value("expired_locks"),
                    lost_last,
                );
                let group: String = row.value("consumer_group");
                (
                    row.value::<String>("consumer_id"),
                    row.value::<String>("topic"),
                    (!group.is_empty()).then_some(group),
                    row.value::<TimestampWithTimeZone>("first_seen"),
                    last_claim,
                    last_ack,
                    in_flight,
                    row.value::<i64>("claimed"),
                    row.value::<i64>("completed"),
                    row.value::<i64>("failed"),
                    row.value::<i64>("lease_expired"),
                    row.get::<String>("last_error"),
                    row.get::<TimestampWithTimeZone>("last_error_at"),
                    status.as_str().to_owned(),
                )
            })
            .collect::<Vec<_>>()
    });
    TableIterator::new(rows)
}
