//! `mq_trace`: the life of a message (and of its replays) as recorded in mq.traces.

use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use pgrx::Uuid;

use mq_core::validation;

use crate::pg::jsonb::RawJsonb;
use crate::pg::raise::OrRaise;
use crate::pg::statements::Statement;

type TraceRow = (
    String,
    i64,
    String,
    RawJsonb<'static>,
    TimestampWithTimeZone,
);

/// Every trace event of `trace_id`, in the order the events happened (a delivery attempt's
/// PROCESSING is kept in the row that ended it, or read from its message while in flight).
#[pg_extern(security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn mq_trace(
    trace_id: Option<Uuid>,
) -> TableIterator<
    'static,
    (
        name!(event, String),
        name!(message_id, i64),
        name!(topic, String),
        name!(detail, RawJsonb<'static>),
        name!(created_at, TimestampWithTimeZone),
    ),
> {
    let trace_id = validation::required("trace_id", trace_id).or_raise();
    let rows = Spi::connect_mut(|client| {
        Statement::Trace
            .run(client, &[trace_id.into()])
            .iter()
            .map(|row| {
                (
                    row.value("event"),
                    row.value("message_id"),
                    row.value("topic"),
                    row.jsonb("detail").expect("detail is NOT NULL").transfer(),
                    row.value("created_at"),
                )
            })
            .collect::<Vec<TraceRow>>()
    });
    TableIterator::new(rows)
}
