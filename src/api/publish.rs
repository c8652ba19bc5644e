//! `mq_publish` and `mq_publish_batch`: add messages to a topic.

use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::Uuid;

use mq_core::capabilities::Capability;
use mq_core::{ids, validation};

use crate::api::privileges;
use crate::pg::arrays::JsonbArray;
use crate::pg::jsonb::RawJsonb;
use crate::pg::raise::OrRaise;
use crate::pg::statements::Statement;
use crate::pg::{clock, settings, wakeup};

/// Publishes `payload` to `topic` and returns the new message's id. The message becomes
/// deliverable at `execute_at`, or after `delay`, or at once. Inside a transaction it is
/// visible to pollers only after COMMIT.
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
) -> i64 {
    let topic = validation::topic(topic).or_raise();
    let payload = validation::required("payload", payload).or_raise();
    validation::json_size("payload", payload.size(), settings::max_payload_size()).or_raise();
    let priority = validation::required("priority", priority).or_raise();
    let max_retries =
        validation::max_retries(max_retries, settings::DEFAULT_MAX_RETRIES.get()).or_raise();
    validation::headers(
        headers.map(|h| (h.root(), h.size())),
        settings::max_payload_size(),
    )
    .or_raise();
    validation::schedule(execute_at.map(|t| t.is_finite()), delay.map(clock::parts)).or_raise();
    let now = clock::now();
    if let Some(delay) = delay {
        validation::fits_after_now("delay", now.into(), clock::parts(delay)).or_raise();
    }
    privileges::check_topic(Capability::Producer, topic);

    let trace_id = trace_id.unwrap_or_else(|| fresh_trace_id(now));
    let id = Spi::connect_mut(|client| {
        Statement::Publish.run_scalar::<i64>(
            client,
            &[
                topic.into(),
                payload.into(),
                headers.into(),
                priority.into(),
                max_retries.into(),
                execute_at.into(),
                delay.into(),
                trace_id.into(),
                now.into(),
            ],
        )
    });
    wakeup::notify_on_commit(topic);
    id
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
fn mq_publish_batch(
    topic: Option<&str>,
    payloads: Option<JsonbArray>,
    priority: default!(Option<i32>, 0),
    execute_at: default!(Option<TimestampWithTimeZone>, "NULL"),
    max_retries: default!(Option<i32>, "NULL"),
    headers: default!(Option<RawJsonb<'_>>, "NULL"),
    delay: default!(Option<Interval>, "NULL"),
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
    let max_retries =
        validation::max_retries(max_retries, settings::DEFAULT_MAX_RETRIES.get()).or_raise();
    validation::headers(
        headers.map(|h| (h.root(), h.size())),
        settings::max_payload_size(),
    )
    .or_raise();
    validation::schedule(execute_at.map(|t| t.is_finite()), delay.map(clock::parts)).or_raise();
    let now = clock::now();
    if let Some(delay) = delay {
        validation::fits_after_now("delay", now.into(), clock::parts(delay)).or_raise();
    }
    privileges::check_topic(Capability::Producer, topic);
    if elements.is_empty() {
        return SetOfIterator::new(Vec::new());
    }

    let trace_ids: Vec<Uuid> = (0..elements.len()).map(|_| fresh_trace_id(now)).collect();
    let ids: Vec<i64> = Spi::connect_mut(|client| {
        Statement::PublishBatch
            .run(
                client,
                &[
                    topic.into(),
                    payloads.into(),
                    headers.into(),
                    priority.into(),
                    max_retries.into(),
                    execute_at.into(),
                    delay.into(),
                    now.into(),
                    trace_ids.into(),
                ],
            )
            .iter()
            .map(|row| row.value::<i64>("id"))
            .collect()
    });
    // Ids are drawn in array order; RETURNING does not promise to keep it.
    let mut ids = ids;
    ids.sort_unstable();
    wakeup::notify_on_commit(topic);
    SetOfIterator::new(ids)
}
