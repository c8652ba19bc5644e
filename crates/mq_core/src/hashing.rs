//! Spreading topics over a fixed number of slots (the long-poll wake-ups in shared memory):
//! FNV-1a of the database and the topic, so that topics of different databases rarely share a
//! slot.

/// The slot (below `slots`) of `topic` in database `database`.
pub fn slot(database: u32, topic: &str, slots: usize) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in database.to_le_bytes().iter().chain(topic.as_bytes()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % slots as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_stable_spread_and_in_range() {
        assert_eq!(slot(5, "orders", 256), slot(5, "orders", 256));
        let used: std::collections::HashSet<usize> = (0..2_000)
            .map(|i| slot(5, &format!("topic-{i}"), 256))
            .collect();
        assert!(used.iter().all(|s| *s < 256));
        assert!(
            used.len() > 256 * 9 / 10,
            "topics spread over the slots: {}",
            used.len()
        );
        let databases: std::collections::HashSet<usize> =
            (0..100).map(|d| slot(d, "orders", 256)).collect();
        assert!(
            databases.len() > 50,
            "databases spread too: {}",
            databases.len()
        );
    }
}
