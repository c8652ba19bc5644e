//! Run lengths and sizes of the full and the quick benchmark.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Config {
    pub quick: bool,
    /// Not counted: every scenario runs this long before measuring.
    pub warmup: Duration,
    /// Measured time of the publish scenarios (a) and (b).
    pub publish_for: Duration,
    /// Backlog consumed in (c) and (f), and the longest they may run.
    pub backlog: i64,
    pub consume_for: Duration,
    /// Measured time of the steady-state scenarios (d).
    pub steady_for: Duration,
    /// Completed rows in the table for the two runs of (e), and claims timed in each.
    pub history: [i64; 2],
    pub claims: usize,
    /// Polls timed in each of the four runs of (g), and the messages scheduled an hour out in
    /// its topic for the second pair.
    pub polls: usize,
    pub scheduled: i64,
    /// The fills of (h), (messages, topics) each, and the calls timed of each monitoring
    /// query after an unmeasured warm-up call. `--scale` adds (10,000,000, 10,000).
    pub monitoring: Vec<(i64, i64)>,
    pub monitoring_calls: usize,
    /// (i): messages published to each fan-out topic, and the numbers of groups tried.
    pub fanout_messages: i64,
    pub fanout_groups: Vec<usize>,
    /// (j): ordering keys and messages per key of the ordered backlog, and how long its
    /// consumers may take at most (a system slower than that is measured over that time).
    pub ordering_keys: i64,
    pub ordering_per_key: i64,
    pub ordering_for: Duration,
    /// Connections of (a), (b), (c), (f); (d) uses half as producers, half as consumers.
    pub connections: usize,
    /// Offered load of the paced steady state, messages per second.
    pub offered_rate: u32,
    /// Every scenario but (e), (g) and (h) runs this many times per system, interleaved with the other
    /// systems, and the lengths above are per round: the machine's drift (this is a shared
    /// virtual machine) is spread over all systems instead of landing on one.
    pub rounds: usize,
}

impl Config {
    pub fn full() -> Config {
        Config {
            quick: false,
            warmup: Duration::from_secs(2),
            publish_for: Duration::from_secs(5),
            backlog: 100_000,
            consume_for: Duration::from_secs(10),
            steady_for: Duration::from_secs(15),
            history: [10_000, 1_000_000],
            claims: 2_000,
            polls: 500,
            scheduled: 1_000_000,
            monitoring: vec![(1_000_000, 10_000)],
            monitoring_calls: 7,
            fanout_messages: 10_000,
            fanout_groups: vec![1, 5, 20],
            ordering_keys: 100_000,
            ordering_per_key: 10,
            ordering_for: Duration::from_secs(60),
            connections: 8,
            offered_rate: 1_000,
            rounds: 2,
        }
    }

    pub fn quick() -> Config {
        Config {
            quick: true,
            warmup: Duration::from_millis(500),
            publish_for: Duration::from_secs(1),
            backlog: 10_000,
            consume_for: Duration::from_secs(2),
            steady_for: Duration::from_millis(1_500),
            history: [10_000, 100_000],
            claims: 300,
            polls: 100,
            scheduled: 100_000,
            monitoring: vec![(100_000, 1_000)],
            monitoring_calls: 7,
            fanout_messages: 1_000,
            fanout_groups: vec![1, 5, 20],
            ordering_keys: 2_000,
            ordering_per_key: 10,
            ordering_for: Duration::from_secs(10),
            connections: 8,
            offered_rate: 1_000,
            rounds: 2,
        }
    }
}
