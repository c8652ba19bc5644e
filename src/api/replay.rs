//! `mq_replay`: send dead letters back to their topic as new messages.

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use mq_core::error::MqError;
use mq_core::validation;

use crate::engine::keys;
use crate::pg::arrays::IdArray;
use crate::pg::raise::{raise, OrRaise};
use crate::pg::statements::Statement;
use crate::pg::{clock, wakeup};

/// Replays the given dead letters that are not yet replayed; returns (dead_letter_id,
/// message_id) pairs in dead letter id order.
fn replay<'a>(client: &mut SpiClient<'_>, ids: impl Fn() -> DatumWithOid<'a>) -> Vec<(i64, i64)> {
    // Dead letters of ordering keys take their place in their keys' order: the keys first.
    let keyed: Vec<(String, String, String)> = Statement::DeadLetterKeys
        .run(client, &[ids()])
        .iter()
        .map(|row| {
            (
                row.value("topic"),
                row.value("consumer_group"),
                row.value("ordering_key"),
            )
        })
        .collect();
    keys::lock(client, &keyed);
    Statement::Replay
        .run(client, &[ids(), clock::now().into()])
        .iter()
        .map(|row| {
            let topic: String = row.value("topic");
            let group = row.get::<String>("consumer_group");
            wakeup::notify_delivery_on_commit(&topic, group.as_deref());
            (row.value("dead_letter_id"), row.value("message_id"))
        })
        .collect()
}

/// Replays one dead letter as a new PENDING message (same topic, payload, headers, priority,
/// max_retries and trace_id; retry_count 0; deliverable now) and returns the new message's id.
/// An unknown id raises P0002, an already replayed one 55000.
#[pg_extern(name = "mq_replay", security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn mq_replay_one(dead_letter_id: Option<i64>) -> i64 {
    let id = validation::required("dead_letter_id", dead_letter_id).or_raise();
    Spi::connect_mut(|client| {
        if let Some((_, message_id)) = replay(client, || [id].as_slice().into()).into_iter().next()
        {
            return message_id;
        }
        let state = Statement::DeadLetterState.run(client, &[id.into()]);
        if state.is_empty() {
            raise(MqError::DeadLetterNotFound { id });
        }
        let message_id = state
            .first()
            .and_then(|row| row.get::<i64>("replayed_message_id"));
        raise(MqError::DeadLetterAlreadyReplayed { id, message_id })
    })
}

/// Replays every listed dead letter that is not yet replayed and returns the new message ids,
/// in dead letter id order. NULL elements, duplicates, unknown and already replayed ids are
/// skipped; a NULL or empty array replays nothing.
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn mq_replay_batch(dead_letter_ids: Option<IdArray>) -> SetOfIterator<'static, i64> {
    let Some(ids) = dead_letter_ids.filter(|ids| !ids.is_empty()) else {
        return SetOfIterator::new(Vec::new());
    };
    let replayed = Spi::connect_mut(|client| replay(client, || ids.into()));
    SetOfIterator::new(replayed.into_iter().map(|(_, message_id)| message_id))
}
