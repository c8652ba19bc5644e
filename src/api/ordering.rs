//! Ordered delivery: `mq_blocked_keys`, the ordering keys a dead letter holds up. Publishing
//! with keys is in `publish`; releasing keys as messages finish in `engine::keys`.

use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;

use mq_core::{routing as routing_rules, validation};

use crate::pg::raise::OrRaise;
use crate::pg::statements::Statement;

/// The ordering keys of `topic` (of `consumer_group`'s deliveries, when given) that are
/// blocked: their head was dead-lettered (or expired) while the topic's ordering_dead_letter
/// is 'block'. Each waits, with the messages behind it, until that dead letter is replayed
/// (or the topic's waiting messages are purged). Returns the key, the blocking message's id,
/// the reason ('dead-lettered' or 'expired') and since when.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::type_complexity)] // pgrx needs the named columns spelled out here
fn mq_blocked_keys(
    topic: Option<&str>,
    consumer_group: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(ordering_key, String),
        name!(head_message_id, i64),
        name!(reason, String),
        name!(since, TimestampWithTimeZone),
    ),
> {
    let topic = validation::topic(topic).or_raise();
    let group = consumer_group.map(|g| routing_rules::consumer_group(Some(g)).or_raise());
    let rows: Vec<_> = Spi::connect_mut(|client| {
        Statement::BlockedKeys
            .run(client, &[topic.into(), group.unwrap_or("").into()])
            .iter()
            .map(|row| {
                (
                    row.value::<String>("ordering_key"),
                    row.value::<i64>("blocked_message_id"),
                    row.get::<String>("blocked_reason").unwrap_or_default(),
                    row.value::<TimestampWithTimeZone>("blocked_since"),
                )
            })
            .collect()
    });
    TableIterator::new(rows)
}
