//! `mq_publish` and `mq_publish_batch`: add messages to a topic.

use pgrx::datum::{DatumWithOid, Interval, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::Uuid;

use mq_core::capabilities::Capability;
use mq_core::topics as topics_core;
use mq_core::{ids, validation};

use crate::api::privileges;
use crate::engine::{keys, routing, topics};
use crate::pg::arrays::JsonbArray;
use crate::pg::jsonb::RawJsonb;
use crate::pg::raise::OrRaise;
use crate::pg::statements::Statement;
use crate::pg::{clock, settings, wakeup};

/// Publishes `payload` to `topic` and returns the new message's id. The message becomes
/// deliverable at `execute_at`, or after `delay`, or at once, and expires at `expires_at` (or
/// after the topic's message_ttl) unless completed by then. Inside a transaction it is visible
/// to pollers only after COMMIT.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::too_many_arguments)]
fn mq_publish(
    topic: Option<&str>,
    payload: Option<RawJsonb<'_>>,
    priority: default!(Option<i32>, 0),
    execute_at: default!(Option<TimestampWithTimeZone>, "NULL"),
    max_retries: default!(Option<i32>, "NULL"),
    trace_id: default!(Option<Uuid>, "NULL"),
    headers: default!(Option<RawJsonb<'_>>, "NULL"),
    delay: default!(Option<Interval>, "NULL"),
    expires_at: default!(Option<TimestampWithTimeZone>, "NULL"),
    ordering_key: default!(Option<&str>, "NULL"),
    dedup_key: default!(Option<&str>, "NULL"),
) -> i64 {
    let topic = validation::topic(topic).or_raise();
    let payload = validation::required("payload", payload).or_raise();
    validation::json_size("payload", payload.size(), settings::max_payload_size()).or_raise();
    let priority = validation::required("priority", priority).or_raise();
    let now = clock::now();
    let checked = Checked::new(
        max_retries,
        headers.as_ref(),
        execute_at,
        delay,
        expires_at,
        now,
    );
    let ordering_key = validation::key("ordering_key", ordering_key).or_raise();
    let dedup_key = validation::key("dedup_key", dedup_key).or_raise();
    privileges::check_topic(Capability::Producer, topic);
    let config = topics::for_publish(topic);
    let max_retries = checked.max_retries(&config);
    let expires_at = topics::expiry(expires_at, config.message_ttl_us, now);

    let trace_id = trace_id.unwrap_or_else(|| fresh_trace_id(now));
    let groups = route(topic);
    if ordering_key.is_some() || dedup_key.is_some() {
        let keyed = Keyed {
            topic,
            headers,
            priority,
            max_retries,
            execute_at,
            delay,
            now,
            expires_at,
            max_depth: config.max_depth,
            groups: &groups,
        };
        return keyed.publish(
            vec![payload],
            vec![trace_id],
            vec![ordering_key.map(str::to_owned)],
            vec![dedup_key.map(str::to_owned)],
        )[0];
    }
    let id = Spi::connect_mut(|client| {
        if let Some(max_depth) = config.max_depth {
            let deliveries = i64::try_from(groups.len().max(1)).unwrap_or(i64::MAX);
            topics::check_capacity(client, topic, max_depth, deliveries);
        }
        let mut args: Vec<DatumWithOid> = vec![
            topic.into(),
            payload.into(),
            headers.into(),
            priority.into(),
            max_retries.into(),
            execute_at.into(),
            delay.into(),
            trace_id.into(),
            now.into(),
            expires_at.into(),
        ];
        if groups.is_empty() {
            Statement::Publish.run_scalar::<i64>(client, &args)
        } else {
            args.push(groups.to_vec().into());
            Statement::PublishToGroups.run_scalar::<i64>(client, &args)
        }
    });
    notify(topic, &groups);
    id
}

/// A publish with ordering or dedup keys: what the elements share.
struct Keyed<'a> {
    topic: &'a str,
    headers: Option<RawJsonb<'a>>,
    priority: i32,
    max_retries: i32,
    execute_at: Option<TimestampWithTimeZone>,
    delay: Option<Interval>,
    now: TimestampWithTimeZone,
    expires_at: Option<TimestampWithTimeZone>,
    max_depth: Option<i64>,
    groups: &'a [String],
}

impl Keyed<'_> {
    /// Publishes the elements (payload, trace id, ordering key, dedup key) through
    /// lifecycle/publish_keyed.sql, after deduplication; returns one id per element in order
    /// (a duplicate's is the earlier message's).
    fn publish(
        &self,
        payloads: Vec<RawJsonb<'_>>,
        trace_ids: Vec<Uuid>,
        ordering_keys: Vec<Option<String>>,
        dedup_keys: Vec<Option<String>>,
    ) -> Vec<i64> {
        let n = payloads.len();
        let ids = Spi::connect_mut(|client| {
            let dedup = if dedup_keys.iter().any(Option::is_some) {
                let window = keys::dedup_window(self.topic);
                keys::dedup(client, self.topic, &dedup_keys, window, self.now)
            } else {
                keys::Dedup {
                    new_ids: vec![None; n],
                    duplicate_of: vec![None; n],
                }
            };
            let fresh: Vec<usize> = (0..n)
                .filter(|i| dedup.duplicate_of[*i].is_none())
                .collect();
            let mut ids: Vec<Option<i64>> = dedup.duplicate_of.clone();
            if fresh.is_empty() {
                return ids;
            }
            if let Some(max_depth) = self.max_depth {
                let adding =
                    i64::try_from(fresh.len() * self.groups.len().max(1)).unwrap_or(i64::MAX);
                topics::check_capacity(client, self.topic, max_depth, adding);
            }
            let args: Vec<DatumWithOid> = vec![
                self.topic.into(),
                fresh
                    .iter()
                    .map(|i| payloads[*i])
                    .collect::<Vec<_>>()
                    .into(),
                self.headers.into(),
                self.priority.into(),
                self.max_retries.into(),
                self.execute_at.into(),
                self.delay.into(),
                self.now.into(),
                fresh
                    .iter()
                    .map(|i| trace_ids[*i])
                    .collect::<Vec<_>>()
                    .into(),
                self.expires_at.into(),
                self.groups.to_vec().into(),
                fresh
                    .iter()
                    .map(|i| dedup.new_ids[*i])
                    .collect::<Vec<_>>()
                    .into(),
                fresh
                    .iter()
                    .map(|i| ordering_keys[*i].clone())
                    .collect::<Vec<_>>()
                    .into(),
            ];
            let published: Vec<i64> = Statement::PublishKeyed
                .run(client, &args)
                .iter()
                .map(|row| row.value::<i64>("id"))
                .collect();
            for (i, id) in fresh.iter().zip(published) {
                ids[*i] = Some(id);
            }
            ids
        });
        notify(self.topic, self.groups);
        ids.into_iter()
            .map(|id| id.expect("every element has its id"))
            .collect()
    }
}

/// Routes a publish to `topic`: the groups it goes to (empty: point-to-point). A topic that
/// groups receive is registered at once when new, so that polls of a group's topics (topic
/// NULL) find it without waiting for the worker.
fn route(topic: &str) -> std::rc::Rc<[String]> {
    let groups = routing::routes(topic);
    if !groups.is_empty() {
        topics::register_if_unknown(topic);
    }
    groups
}

/// Wakes, at commit, the pollers of a publish to `topic`: its point-to-point pollers, or each
/// group's.
fn notify(topic: &str, groups: &[String]) {
    if groups.is_empty() {
        wakeup::notify_on_commit(topic);
    }
    for group in groups {
        wakeup::notify_delivery_on_commit(topic, Some(group));
    }
}

/// The arguments shared by mq_publish and mq_publish_batch, checked.
struct Checked {
    max_retries: Option<i32>,
}

impl Checked {
    /// Checks max_retries, headers and the schedule and expiry arguments (raising on bad ones).
    fn new(
        max_retries: Option<i32>,
        headers: Option<&RawJsonb<'_>>,
        execute_at: Option<TimestampWithTimeZone>,
        delay: Option<Interval>,
        expires_at: Option<TimestampWithTimeZone>,
        now: TimestampWithTimeZone,
    ) -> Checked {
        if let Some(n) = max_retries {
            validation::max_retries(Some(n), 0).or_raise();
        }
        validation::headers(
            headers.map(|h| (h.root(), h.size())),
            settings::max_payload_size(),
        )
        .or_raise();
        validation::schedule(execute_at.map(|t| t.is_finite()), delay.map(clock::parts)).or_raise();
        if let Some(delay) = delay {
            validation::fits_after_now("delay", now.into(), clock::parts(delay)).or_raise();
        }
        validation::expires_at(
            expires_at.map(|t| {
                (
                    t.is_finite(),
                    if t.is_finite() {
                        clock::unix_micros(t)
                    } else {
                        0
                    },
                )
            }),
            clock::unix_micros(now),
        )
        .or_raise();
        Checked { max_retries }
    }

    /// The messages' max_retries: the argument's, else the topic's, else the server's.
    fn max_retries(&self, config: &topics::PublishConfig) -> i32 {
        topics_core::resolve(
            self.max_retries,
            config.max_retries,
            settings::DEFAULT_MAX_RETRIES.get(),
        )
        .0
    }
}

/// A time-ordered trace id for a message published at `now`.
fn fresh_trace_id(now: TimestampWithTimeZone) -> Uuid {
    Uuid::from_bytes(*ids::trace_id(clock::unix_micros(now)).as_bytes())
}

/// Publishes one message per element of `payloads` to `topic`, all with the same priority,
/// schedule (`execute_at`, or now + `delay`), retries and headers (each with a trace id of its
/// own), in one statement; returns the new ids in array order. An empty array publishes nothing.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::too_many_arguments)]
fn mq_publish_batch(
    topic: Option<&str>,
    payloads: Option<JsonbArray>,
    priority: default!(Option<i32>, 0),
    execute_at: default!(Option<TimestampWithTimeZone>, "NULL"),
    max_retries: default!(Option<i32>, "NULL"),
    headers: default!(Option<RawJsonb<'_>>, "NULL"),
    delay: default!(Option<Interval>, "NULL"),
    expires_at: default!(Option<TimestampWithTimeZone>, "NULL"),
    ordering_keys: default!(Option<Vec<Option<String>>>, "NULL"),
    dedup_keys: default!(Option<Vec<Option<String>>>, "NULL"),
) -> SetOfIterator<'static, i64> {
    let topic = validation::topic(topic).or_raise();
    let payloads = validation::required("payloads", payloads).or_raise();
    let elements = payloads.elements();
    validation::batch_payloads(
        elements.iter().map(|e| e.map(|p| p.size())),
        settings::max_payload_size(),
    )
    .or_raise();
    let priority = validation::required("priority", priority).or_raise();
    let now = clock::now();
    let checked = Checked::new(
        max_retries,
        headers.as_ref(),
        execute_at,
        delay,
        expires_at,
        now,
    );
    let ordering_keys =
        validation::batch_keys("ordering_keys", ordering_keys.as_deref(), elements.len())
            .or_raise();
    let dedup_keys =
        validation::batch_keys("dedup_keys", dedup_keys.as_deref(), elements.len()).or_raise();
    privileges::check_topic(Capability::Producer, topic);
    let config = topics::for_publish(topic);
    if elements.is_empty() {
        return SetOfIterator::new(Vec::new());
    }
    let max_retries = checked.max_retries(&config);
    let expires_at = topics::expiry(expires_at, config.message_ttl_us, now);

    let trace_ids: Vec<Uuid> = (0..elements.len()).map(|_| fresh_trace_id(now)).collect();
    let groups = route(topic);
    if ordering_keys.iter().chain(&dedup_keys).any(Option::is_some) {
        let keyed = Keyed {
            topic,
            headers,
            priority,
            max_retries,
            execute_at,
            delay,
            now,
            expires_at,
            max_depth: config.max_depth,
            groups: &groups,
        };
        let payloads = elements
            .iter()
            .map(|e| e.expect("checked: no NULL element"))
            .collect();
        return SetOfIterator::new(keyed.publish(payloads, trace_ids, ordering_keys, dedup_keys));
    }
    let ids: Vec<i64> = Spi::connect_mut(|client| {
        if let Some(max_depth) = config.max_depth {
            let adding = i64::try_from(elements.len() * groups.len().max(1)).unwrap_or(i64::MAX);
            topics::check_capacity(client, topic, max_depth, adding);
        }
        let mut args: Vec<DatumWithOid> = vec![
            topic.into(),
            payloads.into(),
            headers.into(),
            priority.into(),
            max_retries.into(),
            execute_at.into(),
            delay.into(),
            now.into(),
            trace_ids.into(),
            expires_at.into(),
        ];
        let statement = if groups.is_empty() {
            Statement::PublishBatch
        } else {
            args.push(groups.to_vec().into());
            Statement::PublishBatchToGroups
        };
        statement
            .run(client, &args)
            .iter()
            .map(|row| row.value::<i64>("id"))
            .collect()
    });
    // Ids are drawn in array order; RETURNING does not promise to keep it.
    let mut ids = ids;
    ids.sort_unstable();
    notify(topic, &groups);
    SetOfIterator::new(ids)
}
