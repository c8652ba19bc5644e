//! Topics as managed queues: `mq_create_topic`, `mq_alter_topic`, `mq_drop_topic`,
//! `mq_pause`, `mq_resume`, `mq_topics` and `mq_topic_config`. The catalog is `mq.topics`;
//! calls read it through the per-session copy in `engine::topics`.

use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::JsonB;

use mq_core::error::MqError;
use mq_core::routing as routing_rules;
use mq_core::topics::{self as topic_rules, Knob, Source, Topic, TopicSettings};
use mq_core::validation;

use crate::engine::{routing, sampling, topics};
use crate::pg::raise::{raise, OrRaise};
use crate::pg::statements::Statement;
use crate::pg::{clock, wakeup};

/// The settings arguments shared by mq_create_topic and mq_alter_topic, checked.
#[allow(clippy::too_many_arguments)]
fn settings_arguments(
    max_retries: Option<i32>,
    retry_base_delay: Option<Interval>,
    retry_max_delay: Option<Interval>,
    lock_timeout: Option<Interval>,
    message_ttl: Option<Interval>,
    max_depth: Option<i64>,
    retention: Option<Interval>,
    description: Option<&str>,
    dedup_window: Option<Interval>,
    ordering_dead_letter: Option<&str>,
) -> TopicSettings {
    topic_rules::settings_from_arguments(
        max_retries,
        retry_base_delay.map(clock::parts),
        retry_max_delay.map(clock::parts),
        lock_timeout.map(clock::parts),
        message_ttl.map(clock::parts),
        max_depth,
        retention.map(clock::parts),
        dedup_window.map(clock::parts),
        ordering_dead_letter,
        description,
    )
    .or_raise()
}

/// The arguments of create_topic.sql / write_topic.sql for `topic` with `settings`.
fn write(
    client: &mut SpiClient<'_>,
    statement: Statement,
    topic: &str,
    settings: &TopicSettings,
    now: TimestampWithTimeZone,
) -> bool {
    !statement
        .run(
            client,
            &[
                topic.into(),
                settings.max_retries.into(),
                settings.retry_base_delay_us.into(),
                settings.retry_max_delay_us.into(),
                settings.lock_timeout_us.into(),
                settings.message_ttl_us.into(),
                settings.max_depth.into(),
                settings.retention_us.into(),
                settings.dedup_window_us.into(),
                settings.ordering_dead_letter.map(|o| o.as_str()).into(),
                settings.description.as_deref().into(),
                now.into(),
            ],
        )
        .is_empty()
}

/// Locks `topic`'s catalog row and reads it. A topic used but not registered yet (the worker
/// registers topics within a fold interval of their first messages) is registered first; a
/// topic never used raises 42704.
fn lock_existing(client: &mut SpiClient<'_>, topic: &str) -> Topic {
    let read = |client: &mut SpiClient<'_>| {
        Statement::LockTopicRow
            .run(client, &[topic.into()])
            .iter()
            .next()
            .map(|row| topics::from_row(&row))
    };
    if let Some(found) = read(client) {
        return found;
    }
    let depth: i64 = Statement::TopicDepth.run_scalar(client, &[topic.into()]);
    if depth > 0 {
        Statement::RegisterTopic.run(client, &[topic.into(), clock::now().into()]);
        if let Some(found) = read(client) {
            return found;
        }
    }
    raise(MqError::UnknownTopic {
        topic: topic.to_owned(),
        auto_create_off: false,
    })
}

/// Creates `topic` with its own settings (a NULL argument: the server's `pg_mq.*` setting
/// applies). Returns true when it was created, false when it existed (its settings are left
/// unchanged).
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::too_many_arguments)]
fn mq_create_topic(
    topic: Option<&str>,
    max_retries: default!(Option<i32>, "NULL"),
    retry_base_delay: default!(Option<Interval>, "NULL"),
    retry_max_delay: default!(Option<Interval>, "NULL"),
    lock_timeout: default!(Option<Interval>, "NULL"),
    message_ttl: default!(Option<Interval>, "NULL"),
    max_depth: default!(Option<i64>, "NULL"),
    retention: default!(Option<Interval>, "NULL"),
    description: default!(Option<&str>, "NULL"),
    dedup_window: default!(Option<Interval>, "NULL"),
    ordering_dead_letter: default!(Option<&str>, "NULL"),
) -> bool {
    let topic = validation::topic(topic).or_raise();
    let settings = settings_arguments(
        max_retries,
        retry_base_delay,
        retry_max_delay,
        lock_timeout,
        message_ttl,
        max_depth,
        retention,
        description,
        dedup_window,
        ordering_dead_letter,
    );
    Spi::connect_mut(|client| {
        write(
            client,
            Statement::CreateTopic,
            topic,
            &settings,
            clock::now(),
        )
    })
}

/// Changes `topic`'s settings: each argument given replaces the topic's value, a NULL one
/// leaves it; `reset` names settings to give back to the server's `pg_mq.*` setting. Returns
/// the topic's effective configuration. Changes apply to deliveries that start after the
/// change commits.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::too_many_arguments)]
fn mq_alter_topic(
    topic: Option<&str>,
    max_retries: default!(Option<i32>, "NULL"),
    retry_base_delay: default!(Option<Interval>, "NULL"),
    retry_max_delay: default!(Option<Interval>, "NULL"),
    lock_timeout: default!(Option<Interval>, "NULL"),
    message_ttl: default!(Option<Interval>, "NULL"),
    max_depth: default!(Option<i64>, "NULL"),
    retention: default!(Option<Interval>, "NULL"),
    description: default!(Option<&str>, "NULL"),
    dedup_window: default!(Option<Interval>, "NULL"),
    ordering_dead_letter: default!(Option<&str>, "NULL"),
    reset: default!(Option<Vec<Option<String>>>, "NULL"),
) -> JsonB {
    let topic = validation::topic(topic).or_raise();
    let changes = settings_arguments(
        max_retries,
        retry_base_delay,
        retry_max_delay,
        lock_timeout,
        message_ttl,
        max_depth,
        retention,
        description,
        dedup_window,
        ordering_dead_letter,
    );
    let reset = topic_rules::reset_list(reset).or_raise();
    let altered = Spi::connect_mut(|client| {
        let current = lock_existing(client, topic);
        let altered = current.settings.altered(&changes, &reset);
        write(client, Statement::WriteTopic, topic, &altered, clock::now());
        altered
    });
    let (config, _) = altered.effective(&topics::server_defaults());
    JsonB(serde_json::to_value(config).expect("the configuration serializes"))
}

/// Drops `topic`: its configuration, and with `force` its waiting and in-flight messages
/// (each with a PURGED trace row; a consumer holding one can no longer settle it). Without
/// `force` a topic that still holds waiting or in-flight messages is refused (55006). Dead
/// letters, finished messages and traces stay until retention. Returns how many messages were
/// removed.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn mq_drop_topic(topic: Option<&str>, force: default!(Option<bool>, false)) -> i64 {
    let topic = validation::topic(topic).or_raise();
    let force = validation::required("force", force).or_raise();
    Spi::connect_mut(|client| {
        lock_existing(client, topic);
        let live: i64 = Statement::TopicDepth.run_scalar(client, &[topic.into()]);
        if live > 0 && !force {
            raise(MqError::TopicInUse {
                topic: topic.to_owned(),
                live,
            });
        }
        // Fold what was counted so far: the publishes of the messages about to be removed
        // would otherwise register the topic again when the worker folds them.
        sampling::fold(client);
        Statement::DropTopic.run_scalar::<i64>(client, &[topic.into(), clock::now().into()])
    })
}

/// Sets `topic` paused or not (with `consumer_group`: that group only, for `topic` or, when
/// it is NULL, for all its topics); true when this call changed it.
fn set_paused(topic: Option<&str>, consumer_group: Option<&str>, paused: bool) -> bool {
    let Some(group) = consumer_group else {
        let topic = validation::topic(topic).or_raise();
        let changed = Spi::connect_mut(|client| {
            lock_existing(client, topic);
            !Statement::SetPaused
                .run(client, &[topic.into(), paused.into(), clock::now().into()])
                .is_empty()
        });
        if changed && !paused {
            // Long-polls of the topic look again at once.
            wakeup::notify_on_commit(topic);
        }
        return changed;
    };
    let group = routing_rules::consumer_group(Some(group)).or_raise();
    let topic = topic.map(|t| validation::topic(Some(t)).or_raise());
    if !routing::current().has_group(group) {
        raise(MqError::UnknownGroup {
            group: group.to_owned(),
        });
    }
    let key = topic.unwrap_or("");
    let changed = Spi::connect_mut(|client| {
        let statement = if paused {
            Statement::SetGroupPaused
        } else {
            Statement::ClearGroupPaused
        };
        let args = if paused {
            vec![group.into(), key.into(), clock::now().into()]
        } else {
            vec![group.into(), key.into()]
        };
        !statement.run(client, &args).is_empty()
    });
    if changed && !paused {
        match topic {
            Some(topic) => wakeup::notify_delivery_on_commit(topic, Some(group)),
            None => {
                for topic in routing::topics_of(group).iter() {
                    wakeup::notify_delivery_on_commit(topic, Some(group));
                }
            }
        }
    }
    changed
}

/// Pauses `topic`: mq_poll returns no rows (a long-poll keeps waiting) until mq_resume.
/// Publishing, completing and failing deliveries already made, lock recovery, retention and
/// metrics go on. With `consumer_group`, pauses that group only, for `topic` or (topic NULL)
/// for all its topics. Returns true when this call paused it (false: it was paused already).
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn mq_pause(topic: Option<&str>, consumer_group: default!(Option<&str>, "NULL")) -> bool {
    set_paused(topic, consumer_group, true)
}

/// Resumes a paused `topic` (with `consumer_group`: that group, as mq_pause paused it) and
/// wakes its long-polls. Returns true when this call resumed it (false: it was not paused).
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn mq_resume(topic: Option<&str>, consumer_group: default!(Option<&str>, "NULL")) -> bool {
    set_paused(topic, consumer_group, false)
}

/// Every topic: whether it is paused, its effective configuration, description, when it was
/// created (or registered), and its messages waiting (pending, delayed), in flight and
/// dead-lettered (not replayed).
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::type_complexity)] // pgrx needs the named columns spelled out here
fn mq_topics() -> TableIterator<
    'static,
    (
        name!(topic, String),
        name!(paused, bool),
        name!(config, JsonB),
        name!(description, Option<String>),
        name!(created_at, TimestampWithTimeZone),
        name!(pending, i64),
        name!(delayed, i64),
        name!(processing, i64),
        name!(dead_letters, i64),
    ),
> {
    let server = topics::server_defaults();
    let rows: Vec<_> = Spi::connect_mut(|client| {
        Statement::ListTopics
            .run(client, &[clock::now().into()])
            .iter()
            .map(|row| {
                let topic = topics::from_row(&row);
                let (config, _) = topic.settings.effective(&server);
                (
                    topic.name,
                    topic.paused,
                    JsonB(serde_json::to_value(config).expect("the configuration serializes")),
                    topic.settings.description,
                    row.value::<TimestampWithTimeZone>("created_at"),
                    row.value::<i64>("pending"),
                    row.value::<i64>("delayed"),
                    row.value::<i64>("processing"),
                    row.value::<i64>("dead_letters"),
                )
            })
            .collect()
    });
    TableIterator::new(rows)
}

/// The configuration a call on `topic` gets, one row per setting: its value and where it comes
/// from — 'argument' (given here, as a call would give it: `max_retries` as mq_publish's,
/// `lock_timeout` as mq_poll's), 'topic' (the topic's own setting) or 'server' (the `pg_mq.*`
/// setting; for settings without one, none applies and the value is NULL).
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn mq_topic_config(
    topic: Option<&str>,
    max_retries: default!(Option<i32>, "NULL"),
    lock_timeout: default!(Option<Interval>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(setting, String),
        name!(value, Option<String>),
        name!(source, String),
    ),
> {
    let topic = validation::topic(topic).or_raise();
    if let Some(n) = max_retries {
        validation::max_retries(Some(n), 0).or_raise();
    }
    let lock_timeout_us =
        topic_rules::interval_setting("lock_timeout", lock_timeout.map(clock::parts), false)
            .or_raise();
    let settings =
        topics::with(topic, |row| row.map(|t| t.settings.clone())).unwrap_or_else(|| {
            // Used, but not registered yet by the worker: the server's settings apply.
            let depth: i64 = Spi::connect_mut(|client| {
                Statement::TopicDepth.run_scalar(client, &[topic.into()])
            });
            if depth == 0 {
                raise(MqError::UnknownTopic {
                    topic: topic.to_owned(),
                    auto_create_off: false,
                });
            }
            TopicSettings::default()
        });
    let (_, mut rows) = settings.effective(&topics::server_defaults());
    for row in &mut rows {
        match row.0 {
            Knob::MaxRetries if max_retries.is_some() => {
                *row = (row.0, max_retries.map(|n| n.to_string()), Source::Argument);
            }
            Knob::LockTimeout if lock_timeout_us.is_some() => {
                *row = (
                    row.0,
                    lock_timeout_us.map(topic_rules::interval_text),
                    Source::Argument,
                );
            }
            _ => {}
        }
    }
    TableIterator::new(
        rows.into_iter().map(|(knob, value, source)| {
            (knob.name().to_owned(), value, source.as_str().to_owned())
        }),
    )
}
