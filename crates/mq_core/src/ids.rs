//! Time-ordered trace ids: UUID version 7 (RFC 9562) from the `uuid` crate, stamped with the
//! time of the call that publishes. Ids made close in time sort close together, so inserts into
//! the trace index land on the same few pages instead of everywhere; within a process they
//! are strictly increasing (the crate's v7 context keeps a counter for ids of the same
//! millisecond).

use std::cell::RefCell;

use uuid::{ContextV7, Timestamp, Uuid};

thread_local! {
    static CONTEXT: RefCell<ContextV7> = const { RefCell::new(ContextV7::new()) };
}

/// A fresh trace id for a message published at `unix_micros` (microseconds since the Unix
/// epoch; times before it count as the epoch).
pub fn trace_id(unix_micros: i64) -> Uuid {
    let micros = u64::try_from(unix_micros).unwrap_or(0);
    let seconds = micros / 1_000_000;
    let nanos = u32::try_from(micros % 1_000_000 * 1_000).expect("below one second");
    CONTEXT.with(|context| Uuid::new_v7(Timestamp::from_unix(&*context.borrow(), seconds, nanos)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_version_7_and_carry_the_time() {
        let id = trace_id(1_795_262_400_123_456);
        assert_eq!(id.get_version_num(), 7);
        let (seconds, nanos) = id.get_timestamp().unwrap().to_unix();
        assert_eq!(seconds, 1_795_262_400);
        assert_eq!(nanos / 1_000_000, 123);
    }

    #[test]
    fn later_milliseconds_sort_later_and_ids_of_one_millisecond_increase() {
        assert!(trace_id(1_000_000) < trace_id(1_001_000));
        let same: Vec<Uuid> = (0..1_000).map(|_| trace_id(5_000_000)).collect();
        assert!(same.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn ids_differ() {
        let ids: std::collections::HashSet<Uuid> = (0..10_000).map(|_| trace_id(5)).collect();
        assert_eq!(ids.len(), 10_000);
    }
}
