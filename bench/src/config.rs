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
    /// Connections of (a), (b), (c), (f); (d) uses half as producers, half as consumers.
    pub connections: usize,
    /// Offered load of the paced steady state, messages per second.
    pub offered_rate: u32,
}

impl Config {
    pub fn full() -> Config {
        Config {
            quick: false,
            warmup: Duration::from_secs(2),
            publish_for: Duration::from_secs(10),
            backlog: 200_000,
            consume_for: Duration::from_secs(20),
            steady_for: Duration::from_secs(30),
            history: [10_000, 1_000_000],
            claims: 2_000,
            connections: 8,
            offered_rate: 1_000,
        }
    }

    pub fn quick() -> Config {
        Config {
            quick: true,
            warmup: Duration::from_millis(500),
            publish_for: Duration::from_secs(2),
            backlog: 20_000,
            consume_for: Duration::from_secs(4),
            steady_for: Duration::from_secs(3),
            history: [10_000, 100_000],
            claims: 300,
            connections: 8,
            offered_rate: 1_000,
        }
    }
}
