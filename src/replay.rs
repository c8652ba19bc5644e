//! `mq_replay`: send dead letters back to their topic as new messages.

use pgrx::prelude::*;
use pgrx::spi::SpiClient;

use crate::complete::distinct_ids;
use crate::error::MqError;
use crate::raise::{raise, OrRaise};
use crate::statements::Statement;
use crate::{clock, settings, validation, wakeup};

/// Replays the given dead letters that are not yet replayed; returns (dead_letter_id,
/// message_id) pairs in dead letter id order.
fn replay(client: &mut SpiClient<'_>, ids: Vec<i64>) -> Vec<(i64, i64)> {
    if ids.is_empty() {
        return Vec::new();
    }
    Statement::Replay
        .run(
            client,
            &[
                ids.into(),
                clock::now().into(),
                settings::TRACE.get().into(),
            ],
        )
        .map(|row| {
            let topic: String = row.get(3).ok().flatten().expect("topic");
            wakeup::notify_on_commit(&topic);
            (
                row.get(1).ok().flatten().expect("dead_letter_id"),
                row.get(2).ok().flatten().expect("message_id"),
            )
        })
        .collect()
}

/// Replays one dead letter as a new PENDING message (same topic, payload, headers, priority,
/// max_retries and trace_id; retry_count 0; deliverable now) and returns the new message's id.
/// An unknown id raises P0002, an already replayed one 55000.
#[pg_extern(name = "mq_replay")]
fn mq_replay_one(dead_letter_id: Option<i64>) -> i64 {
    let id = validation::required("dead_letter_id", dead_letter_id).or_raise();
    Spi::connect_mut(|client| {
        if let Some((_, message_id)) = replay(client, vec![id]).into_iter().next() {
            return message_id;
        }
        let state = Statement::DeadLetterState.run(client, &[id.into()]);
        if state.is_empty() {
            raise(MqError::DeadLetterNotFound { id });
        }
        let message_id = state.first().get::<i64>(2).ok().flatten();
        raise(MqError::DeadLetterAlreadyReplayed { id, message_id })
    })
}

/// Replays every listed dead letter that is not yet replayed and returns the new message ids,
/// in dead letter id order. NULL elements, duplicates, unknown and already replayed ids are
/// skipped.
#[pg_extern(name = "mq_replay")]
fn mq_replay_many(dead_letter_ids: Option<Vec<Option<i64>>>) -> SetOfIterator<'static, i64> {
    let ids = distinct_ids(validation::required("dead_letter_ids", dead_letter_ids).or_raise());
    let replayed = Spi::connect_mut(|client| replay(client, ids));
    SetOfIterator::new(replayed.into_iter().map(|(_, message_id)| message_id))
}
