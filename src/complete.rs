//! `mq_complete`: acknowledge a delivered message.

use pgrx::prelude::*;
use pgrx::Uuid;

use crate::raise::OrRaise;
use crate::statements::Statement;
use crate::{clock, settings, validation};

/// Marks message `id` COMPLETED. Returns true when this call completed it; false when the
/// message is unknown, not PROCESSING, or `lease` is not its current delivery's lease. Without
/// a lease it completes the current delivery, whoever holds it.
#[pg_extern]
fn mq_complete(id: Option<i64>, lease: default!(Option<Uuid>, "NULL")) -> bool {
    let id = validation::required("id", id).or_raise();
    Spi::connect_mut(|client| {
        !Statement::Complete
            .run(
                client,
                &[
                    id.into(),
                    lease.into(),
                    clock::now().into(),
                    settings::TRACE.get().into(),
                ],
            )
            .is_empty()
    })
}
