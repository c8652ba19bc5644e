//! `mq_trace`: the life of a message (and of its replays) as recorded in mq.traces.

use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use pgrx::Uuid;

use crate::jsonb::RawJsonb;
use crate::raise::OrRaise;
use crate::statements::Statement;
use crate::validation;

type TraceRow = (String, i64, String, RawJsonb, TimestampWithTimeZone);

/// Every trace row of `trace_id`, in the order the events happened.
#[pg_extern]
fn mq_trace(
    trace_id: Option<Uuid>,
) -> TableIterator<
    'static,
    (
        name!(event, String),
        name!(message_id, i64),
        name!(topic, String),
        name!(detail, RawJsonb),
        name!(created_at, TimestampWithTimeZone),
    ),
> {
    let trace_id = validation::required("trace_id", trace_id).or_raise();
    let rows = Spi::connect_mut(|client| {
        Statement::Trace
            .run(client, &[trace_id.into()])
            .map(|row| {
                (
                    row.get(1).ok().flatten().expect("event"),
                    row.get(2).ok().flatten().expect("message_id"),
                    row.get(3).ok().flatten().expect("topic"),
                    row.get(4).ok().flatten().expect("detail"),
                    row.get(5).ok().flatten().expect("created_at"),
                )
            })
            .collect::<Vec<TraceRow>>()
    });
    TableIterator::new(rows)
}
