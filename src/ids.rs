//! Time-ordered trace ids (UUID version 7, RFC 9562): a millisecond timestamp followed by
//! random bits. Ids generated close in time sort close together, so inserts into the trace
//! index land on the same few pages instead of everywhere. Pure Rust.

use std::cell::Cell;
use std::hash::{BuildHasher, RandomState};

/// A UUIDv7 for `unix_millis` with the given random bits (only 74 are used).
pub fn uuid7(unix_millis: u64, random: u128) -> [u8; 16] {
    let mut bytes = [0_u8; 16];
    bytes[..6].copy_from_slice(&unix_millis.to_be_bytes()[2..]);
    bytes[6..].copy_from_slice(&random.to_be_bytes()[6..]);
    bytes[6] = (bytes[6] & 0x0F) | 0x70; // version 7
    bytes[8] = (bytes[8] & 0x3F) | 0x80; // variant 10
    bytes
}

/// 128 random bits, from the standard library's randomly keyed hasher (unique per process,
/// not for secrets).
pub fn random_bits() -> u128 {
    thread_local! {
        static STATE: RandomState = RandomState::new();
        static COUNTER: Cell<u64> = const { Cell::new(0) };
    }
    let n = COUNTER.with(|c| {
        let n = c.get().wrapping_add(1);
        c.set(n);
        n
    });
    STATE.with(|s| (u128::from(s.hash_one(n)) << 64) | u128::from(s.hash_one(!n)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_follows_rfc_9562() {
        let id = uuid7(0x0123_4567_89AB, u128::MAX);
        assert_eq!(&id[..6], &[0x01, 0x23, 0x45, 0x67, 0x89, 0xAB]);
        assert_eq!(id[6] >> 4, 7, "version");
        assert_eq!(id[8] >> 6, 0b10, "variant");
    }

    #[test]
    fn later_milliseconds_sort_later() {
        let a = uuid7(1_000, random_bits());
        let b = uuid7(1_001, random_bits());
        assert!(a < b);
    }

    #[test]
    fn random_bits_differ() {
        let ids: std::collections::HashSet<[u8; 16]> =
            (0..10_000).map(|_| uuid7(5, random_bits())).collect();
        assert_eq!(ids.len(), 10_000);
    }
}
