//! `mq_publish`: add a message to a topic.

use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::Uuid;

use crate::jsonb::RawJsonb;
use crate::raise::OrRaise;
use crate::statements::Statement;
use crate::{clock, settings, validation};

/// Publishes `payload` to `topic` and returns the new message's id. The message becomes
/// deliverable at `execute_at`, or after `delay`, or at once. Inside a transaction it is
/// visible to pollers only after COMMIT.
#[pg_extern]
#[allow(clippy::too_many_arguments)]
fn mq_publish(
    topic: Option<&str>,
    payload: Option<RawJsonb>,
    priority: default!(Option<i32>, 0),
    execute_at: default!(Option<TimestampWithTimeZone>, "NULL"),
    max_retries: default!(Option<i32>, "NULL"),
    trace_id: default!(Option<Uuid>, "NULL"),
    headers: default!(Option<RawJsonb>, "NULL"),
    delay: default!(Option<Interval>, "NULL"),
) -> i64 {
    let topic = validation::topic(topic).or_raise();
    let payload = validation::required("payload", payload).or_raise();
    validation::payload_size(payload.size(), settings::max_payload_size()).or_raise();
    let priority = validation::required("priority", priority).or_raise();
    let max_retries =
        validation::max_retries(max_retries, settings::DEFAULT_MAX_RETRIES.get()).or_raise();
    validation::headers(headers.map(RawJsonb::root)).or_raise();
    validation::schedule(execute_at.map(|t| t.is_finite()), delay.map(clock::parts)).or_raise();

    Spi::connect_mut(|client| {
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
                clock::now().into(),
                settings::TRACE.get().into(),
            ],
        )
    })
}
