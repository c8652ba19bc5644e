//! Publish–subscribe: `mq_subscribe`, `mq_unsubscribe` and `mq_subscriptions`. Routing itself
//! happens at publish (`engine::routing`).

use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use mq_core::error::MqError;
use mq_core::routing::{self as routing_rules, Pattern};

use crate::engine::{keys, routing};
use crate::pg::raise::{raise, OrRaise};
use crate::pg::statements::Statement;
use crate::pg::{clock, wakeup};

/// Every topic pg_mq knows (registered or counted).
fn known_topics(client: &mut SpiClient<'_>) -> Vec<String> {
    Statement::KnownTopics
        .run(client, &[])
        .iter()
        .map(|row| row.value::<String>("topic"))
        .collect()
}

/// Subscribes `consumer_group` to the topics `topic_pattern` matches (`*` one word, `#` zero
/// or more) and returns the subscription's id (the same id when the group already has that
/// pattern: nothing changes then). Messages committed after the subscription reach the group;
/// with `start_at`, so do the messages of the matching topics published since then that
/// mq.messages still holds (those of topics the group's other patterns already matched
/// excepted: it has them). Waits for the transactions publishing at that moment.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn mq_subscribe(
    consumer_group: Option<&str>,
    topic_pattern: Option<&str>,
    start_at: default!(Option<TimestampWithTimeZone>, "NULL"),
) -> i64 {
    let group = routing_rules::consumer_group(consumer_group).or_raise();
    let pattern = Pattern::parse(topic_pattern).or_raise();
    let now = clock::now();
    if let Some(at) = start_at {
        if !at.is_finite() || clock::unix_micros(at) > clock::unix_micros(now) {
            raise(MqError::invalid(
                "start_at",
                "must be a time in the past (the oldest message to deliver), not in the future",
            ));
        }
    }
    Spi::connect_mut(|client| {
        Statement::LockRouting.run(client, &[]);
        let others: Vec<Pattern> = routing::current().patterns_of(group).cloned().collect();
        let row = Statement::Subscribe.run(
            client,
            &[
                group.into(),
                pattern.as_str().into(),
                start_at.into(),
                now.into(),
            ],
        );
        let row = row.first().expect("subscribe.sql returns a row");
        let (id, created): (i64, bool) = (row.value("id"), row.value("created"));
        if let (true, Some(start_at)) = (created, start_at) {
            let topics: Vec<String> = known_topics(client)
                .into_iter()
                .filter(|t| pattern.matches(t) && !others.iter().any(|p| p.matches(t)))
                .collect();
            if !topics.is_empty() {
                for topic in &topics {
                    wakeup::notify_delivery_on_commit(topic, Some(group));
                }
                Statement::Backfill.run(
                    client,
                    &[group.into(), topics.into(), start_at.into(), now.into()],
                );
            }
        }
        id
    })
}

/// Removes `consumer_group`'s subscription to `topic_pattern` (NULL: all of the group's) and
/// returns how many were removed. The group stops receiving new messages of those patterns;
/// its deliveries waiting in topics it no longer matches are removed (trace PURGED, counted);
/// deliveries in flight can still be completed.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn mq_unsubscribe(
    consumer_group: Option<&str>,
    topic_pattern: default!(Option<&str>, "NULL"),
) -> i64 {
    let group = routing_rules::consumer_group(consumer_group).or_raise();
    let pattern = topic_pattern.map(|p| Pattern::parse(Some(p)).or_raise());
    Spi::connect_mut(|client| {
        Statement::LockRouting.run(client, &[]);
        let removed = Statement::Unsubscribe
            .run(
                client,
                &[group.into(), pattern.as_ref().map(Pattern::as_str).into()],
            )
            .len();
        if removed > 0 {
            // This transaction's copy of the subscriptions already lacks the removed ones.
            let remaining: Vec<Pattern> = routing::current().patterns_of(group).cloned().collect();
            let now = clock::now();
            let stranded: Vec<String> = Statement::GroupTopics
                .run(client, &[group.into(), now.into()])
                .iter()
                .map(|row| row.value::<String>("topic"))
                .filter(|t| !remaining.iter().any(|p| p.matches(t)))
                .collect();
            if !stranded.is_empty() {
                Statement::PurgeGroup
                    .run(client, &[group.into(), stranded.clone().into(), now.into()]);
                for topic in &stranded {
                    keys::reconcile(client, topic, Some(group), now);
                }
            }
        }
        i64::try_from(removed).unwrap_or(i64::MAX)
    })
}

/// What one subscription's group has in the topics it matches.
#[derive(Default)]
struct Figures {
    pending: i64,
    delayed: i64,
    processing: i64,
    dead_letters: i64,
    oldest_pending_age_us: Option<i64>,
    last_delivery_us: Option<i64>,
}

/// Every subscription (of `consumer_group`, when given): its group, pattern, id and creation,
/// whether the group is paused (for all its topics), and what the group has in the topics the
/// pattern matches: deliveries waiting (pending, delayed), in flight, dead-lettered, the age of
/// its oldest pending delivery (its lag), and when it last received a delivery.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::type_complexity)] // pgrx needs the named columns spelled out here
fn mq_subscriptions(
    consumer_group: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(consumer_group, String),
        name!(topic_pattern, String),
        name!(subscription_id, i64),
        name!(created_at, TimestampWithTimeZone),
        name!(paused, bool),
        name!(pending, i64),
        name!(delayed, i64),
        name!(processing, i64),
        name!(dead_letters, i64),
        name!(oldest_pending_age, Option<Interval>),
        name!(last_poll_at, Option<TimestampWithTimeZone>),
    ),
> {
    let group = consumer_group.map(|g| routing_rules::consumer_group(Some(g)).or_raise());
    let now = clock::now();
    let rows: Vec<_> = Spi::connect_mut(|client| {
        let subscriptions: Vec<(i64, String, String, TimestampWithTimeZone)> =
            Statement::ListSubscriptions
                .run(client, &[group.into()])
                .iter()
                .map(|row| {
                    (
                        row.value("id"),
                        row.value("consumer_group"),
                        row.value("topic_pattern"),
                        row.value("created_at"),
                    )
                })
                .collect();
        let metrics: Vec<(String, String, Figures)> = Statement::CurrentMetrics
            .run(client, &[now.into(), None::<&str>.into()])
            .iter()
            .filter_map(|row| {
                let group = row.get::<String>("consumer_group")?;
                Some((
                    row.value::<String>("topic"),
                    group,
                    Figures {
                        pending: row.value("pending"),
                        delayed: row.value("delayed"),
                        processing: row.value("processing"),
                        dead_letters: row.value("dead_letters"),
                        oldest_pending_age_us: row.get::<Interval>("oldest_pending_age").map(|i| {
                            i64::try_from(clock::parts(i).comparable_micros()).unwrap_or(i64::MAX)
                        }),
                        last_delivery_us: row
                            .get::<TimestampWithTimeZone>("last_delivery_at")
                            .map(clock::unix_micros),
                    },
                ))
            })
            .collect();
        subscriptions
            .into_iter()
            .map(|(id, group, pattern_text, created_at)| {
                let pattern = Pattern::parse(Some(&pattern_text)).ok();
                let mut sum = Figures::default();
                for (topic, g, f) in &metrics {
                    if *g != group || !pattern.as_ref().is_some_and(|p| p.matches(topic)) {
                        continue;
                    }
                    sum.pending += f.pending;
                    sum.delayed += f.delayed;
                    sum.processing += f.processing;
                    sum.dead_letters += f.dead_letters;
                    sum.oldest_pending_age_us =
                        sum.oldest_pending_age_us.max(f.oldest_pending_age_us);
                    sum.last_delivery_us = sum.last_delivery_us.max(f.last_delivery_us);
                }
                let paused = routing::group_paused(&group, "");
                (
                    group,
                    pattern_text,
                    id,
                    created_at,
                    paused,
                    sum.pending,
                    sum.delayed,
                    sum.processing,
                    sum.dead_letters,
                    sum.oldest_pending_age_us.map(Interval::from_micros),
                    sum.last_delivery_us.map(clock::from_unix_micros),
                )
            })
            .collect()
    });
    TableIterator::new(rows)
}
