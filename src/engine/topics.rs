//! The topic catalog (`mq.topics`) as calls read it: a per-session copy, invalidated when the
//! catalog changes, so publish, poll and fail find a topic's settings without a query. Which
//! value applies is `mq_core::topics::resolve`: the call's argument, else the topic's setting,
//! else the server's `pg_mq.*` setting.

use std::collections::HashMap;

use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use mq_core::backoff::RetryPolicy;
use mq_core::error::MqError;
use mq_core::topics::{OrderingDeadLetter, ServerDefaults, Topic, TopicSettings};

use crate::pg::catalog::cached_table;
use crate::pg::raise::raise;
use crate::pg::spi::Row;
use crate::pg::statements::Statement;
use crate::pg::{clock, settings};

/// The catalog by topic name.
pub type Catalog = HashMap<String, Topic>;

/// A topic's row of load_topics.sql / lock_topic_row.sql / list_topics.sql.
pub fn from_row(row: &Row<'_, '_>) -> Topic {
    Topic {
        name: row.value("topic"),
        settings: TopicSettings {
            max_retries: row.get("max_retries"),
            retry_base_delay_us: row.get("retry_base_delay_us"),
            retry_max_delay_us: row.get("retry_max_delay_us"),
            lock_timeout_us: row.get("lock_timeout_us"),
            message_ttl_us: row.get("message_ttl_us"),
            max_depth: row.get("max_depth"),
            retention_us: row.get("retention_us"),
            dedup_window_us: row.get("dedup_window_us"),
            ordering_dead_letter: row
                .get::<String>("ordering_dead_letter")
                .and_then(|v| OrderingDeadLetter::parse(&v).ok()),
            description: row.get("description"),
        },
        paused: row.value("paused"),
    }
}

fn load() -> Catalog {
    Spi::connect_mut(|client| {
        Statement::LoadTopics
            .run(client, &[])
            .iter()
            .map(|row| {
                let topic = from_row(&row);
                (topic.name.clone(), topic)
            })
            .collect()
    })
}

cached_table!(mod cache: Catalog = c"topics", super::load);

/// Runs `f` on the catalog's row of `topic` (None: never created nor registered yet).
pub fn with<R>(topic: &str, f: impl FnOnce(Option<&Topic>) -> R) -> R {
    f(cache::rows().get(topic))
}

/// The whole catalog (this session's copy).
pub fn catalog() -> std::rc::Rc<Catalog> {
    cache::rows()
}

/// The server's settings a topic falls back to, now.
pub fn server_defaults() -> ServerDefaults {
    ServerDefaults {
        max_retries: settings::DEFAULT_MAX_RETRIES.get(),
        retry_base_delay_us: i64::from(settings::RETRY_BASE_DELAY.get()) * 1_000,
        retry_max_delay_us: i64::from(settings::RETRY_MAX_DELAY.get()) * 1_000,
        lock_timeout_us: i64::from(settings::lock_timeout_ms()) * 1_000,
        retention_us: i64::from(settings::COMPLETED_RETENTION.get()) * 1_000_000,
        dedup_window_us: i64::from(settings::DEDUP_WINDOW.get()) * 1_000_000,
    }
}

/// What a publish to `topic` needs from the catalog. Raises 42704 when the topic was never
/// created and `pg_mq.auto_create_topics` is off.
pub struct PublishConfig {
    /// The topic's max_retries (None: the server's).
    pub max_retries: Option<i32>,
    pub message_ttl_us: Option<i64>,
    pub max_depth: Option<i64>,
}

pub fn for_publish(topic: &str) -> PublishConfig {
    with(topic, |row| match row {
        Some(t) => PublishConfig {
            max_retries: t.settings.max_retries,
            message_ttl_us: t.settings.message_ttl_us,
            max_depth: t.settings.max_depth,
        },
        None if !settings::AUTO_CREATE_TOPICS.get() => raise(MqError::UnknownTopic {
            topic: topic.to_owned(),
            auto_create_off: true,
        }),
        None => PublishConfig {
            max_retries: None,
            message_ttl_us: None,
            max_depth: None,
        },
    })
}

/// When a message published now to a topic with `message_ttl_us` expires, unless the call
/// gave its own `expires_at`.
pub fn expiry(
    expires_at: Option<TimestampWithTimeZone>,
    message_ttl_us: Option<i64>,
    now: TimestampWithTimeZone,
) -> Option<TimestampWithTimeZone> {
    expires_at.or_else(|| message_ttl_us.map(|ttl| clock::plus_micros(now, ttl)))
}

/// Raises 53400 unless `topic` (capped at `max_depth`) has room for `adding` more messages.
/// Takes the topic's publish lock first, held until the transaction ends, so the publishers of
/// a capped topic take turns and each sees the messages of those before it.
pub fn check_capacity(client: &mut SpiClient<'_>, topic: &str, max_depth: i64, adding: i64) {
    Statement::LockDepth.run(client, &[topic.into()]);
    let depth: i64 = Statement::TopicDepth.run_scalar(client, &[topic.into()]);
    if depth.saturating_add(adding) > max_depth {
        raise(MqError::TopicFull {
            topic: topic.to_owned(),
            depth,
            max_depth,
            adding,
        });
    }
}

/// Whether `topic` is paused (polls return nothing).
pub fn is_paused(topic: &str) -> bool {
    with(topic, |row| row.is_some_and(|t| t.paused))
}

/// Whether `topic` is paused as committed now, read from the catalog itself: a poll whose copy
/// says paused asks again, because a resume wakes its long-polls as it commits, a moment before
/// the catalog's invalidation reaches them.
pub fn still_paused(topic: &str) -> bool {
    Spi::connect_mut(|client| {
        Statement::TopicPaused
            .run(client, &[topic.into()])
            .iter()
            .next()
            .is_some_and(|row| row.value::<bool>("paused"))
    })
}

/// The lock timeout of a delivery from `topic`, in microseconds, when the poll gave none.
pub fn lock_timeout_us(topic: &str) -> i64 {
    with(topic, |row| row.and_then(|t| t.settings.lock_timeout_us))
        .unwrap_or_else(|| i64::from(settings::lock_timeout_ms()) * 1_000)
}

/// The retry backoff of `topic`: its delays, else the server's; the jitter is the server's.
pub fn retry_policy(topic: &str) -> RetryPolicy {
    let server = settings::retry_policy();
    with(topic, |row| match row {
        Some(t) => RetryPolicy {
            base_delay_ms: t
                .settings
                .retry_base_delay_us
                .map_or(server.base_delay_ms, |us| us / 1_000),
            max_delay_ms: t
                .settings
                .retry_max_delay_us
                .map_or(server.max_delay_ms, |us| us / 1_000),
            jitter: server.jitter,
        },
        None => server,
    })
}

/// Registers `topic` with the server's settings if this session has not seen it in the
/// catalog (what a poll of a topic never published to does; publishes are registered by the
/// worker as it folds their counts). Nothing when `pg_mq.auto_create_topics` is off.
pub fn register_if_unknown(topic: &str) {
    if with(topic, |row| row.is_some()) || !settings::AUTO_CREATE_TOPICS.get() {
        return;
    }
    Spi::connect_mut(|client| {
        Statement::RegisterTopic.run(client, &[topic.into(), clock::now().into()]);
    });
}
