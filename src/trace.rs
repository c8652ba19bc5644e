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
        name!(detail, RawJsonb),
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
                    row.value(0),
                    row.value(1),
                    row.value(2),
                    row.value::<RawJsonb>(3).transfer(),
                    row.value(4),
                )
            })
            .collect::<Vec<TraceRow>>()
    });
    TableIterator::new(rows)
}
