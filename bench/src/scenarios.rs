//! The scenarios: each runs one system on a fresh queue, excludes a warm-up, and counts the
//! messages in the database at the start and the end of the measured window.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use pg_mq_live_tests::{Client, Cluster};

use crate::config::Config;
use crate::payload;
use crate::report::Measurement;
use crate::systems::{Session, System};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    PublishOne,
    PublishBatch,
    ConsumeBacklog,
    SteadyState,
    SteadyPaced,
    ClaimLatency,
    HeldSnapshot,
}

impl Scenario {
    pub const ALL: [Scenario; 7] = [
        Scenario::PublishOne,
        Scenario::PublishBatch,
        Scenario::ConsumeBacklog,
        Scenario::SteadyState,
        Scenario::SteadyPaced,
        Scenario::ClaimLatency,
        Scenario::HeldSnapshot,
    ];

    /// The letter of the list (d' is the paced steady state).
    pub fn key(self) -> &'static str {
        match self {
            Scenario::PublishOne => "a",
            Scenario::PublishBatch => "b",
            Scenario::ConsumeBacklog => "c",
            Scenario::SteadyState => "d",
            Scenario::SteadyPaced => "d'",
            Scenario::ClaimLatency => "e",
            Scenario::HeldSnapshot => "f",
        }
    }
}

/// Runs a scenario for one system; returns its rows (two for claim latency).
pub fn run(
    scenario: Scenario,
    system: &dyn System,
    cluster: &Cluster,
    cfg: &Config,
    n: usize,
) -> Vec<Measurement> {
    let queue = format!("bench_{}_{n}", scenario.key().replace('\'', "p"));
    let mut admin = cluster.connect();
    let shards = match scenario {
        Scenario::SteadyState | Scenario::SteadyPaced => cfg.connections / 2,
        Scenario::ClaimLatency => 1,
        _ => cfg.connections,
    };
    system.create(&mut admin, &queue, shards);
    let rows = match scenario {
        Scenario::PublishOne => vec![publish(system, cluster, cfg, &queue, shards, 1)],
        Scenario::PublishBatch => vec![publish(system, cluster, cfg, &queue, shards, 100)],
        Scenario::ConsumeBacklog => {
            vec![consume_backlog(system, cluster, cfg, &queue, shards, false)]
        }
        Scenario::SteadyState => vec![steady(system, cluster, cfg, &queue, shards, false)],
        Scenario::SteadyPaced => vec![steady(system, cluster, cfg, &queue, shards, true)],
        Scenario::ClaimLatency => claim_latency(system, cluster, cfg, &queue),
        Scenario::HeldSnapshot => vec![consume_backlog(system, cluster, cfg, &queue, shards, true)],
    };
    system.drop(&mut admin, &queue, shards);
    rows
}

struct Ticker {
    stop: Arc<AtomicBool>,
    handle: Option<thread::JoinHandle<()>>,
}

impl Ticker {
    /// Starts the system's ticker, if it needs one.
    fn start(system: &dyn System, cluster: &Cluster) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let handle = system.ticker_sql().map(|sql| {
            let mut client = cluster.connect();
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    client.batch_execute(sql).expect("ticker");
                    thread::sleep(Duration::from_millis(5));
                }
            })
        });
        Ticker { stop, handle }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

fn sessions(
    system: &dyn System,
    cluster: &Cluster,
    queue: &str,
    count: usize,
    shards: usize,
) -> Vec<Box<dyn Session>> {
    (0..count)
        .map(|i| system.session(cluster.connect(), queue, i, shards))
        .collect()
}

/// Where WAL insertion stands now, in bytes.
fn wal_position(admin: &mut Client) -> i64 {
    admin
        .query_one(
            "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint",
            &[],
        )
        .expect("WAL position")
        .get(0)
}

fn settle(admin: &mut Client) {
    admin
        .batch_execute("ANALYZE; CHECKPOINT")
        .expect("analyze and checkpoint");
}

/// (a) and (b): every connection publishes as fast as it can, `batch` messages a transaction.
fn publish(
    system: &dyn System,
    cluster: &Cluster,
    cfg: &Config,
    queue: &str,
    shards: usize,
    batch: usize,
) -> Measurement {
    let mut admin = cluster.connect();
    settle(&mut admin);
    let stop = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = sessions(system, cluster, queue, cfg.connections, shards)
        .into_iter()
        .map(|mut session| {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                let mut n = 0_i64;
                while !stop.load(Ordering::Relaxed) {
                    if batch == 1 {
                        session.publish(&payload::make(n, payload::now_micros()));
                    } else {
                        let now = payload::now_micros();
                        let payloads: Vec<_> = (0..batch as i64)
                            .map(|i| payload::make(n + i, now))
                            .collect();
                        session.publish_batch(&payloads);
                    }
                    n += batch as i64;
                }
            })
        })
        .collect();
    thread::sleep(cfg.warmup);
    let (c0, t0, w0) = (
        system.published(&mut admin, queue, shards),
        Instant::now(),
        wal_position(&mut admin),
    );
    thread::sleep(cfg.publish_for);
    let (c1, t1, w1) = (
        system.published(&mut admin, queue, shards),
        Instant::now(),
        wal_position(&mut admin),
    );
    stop.store(true, Ordering::Relaxed);
    handles
        .into_iter()
        .for_each(|h| h.join().expect("publisher"));
    Measurement {
        scenario: if batch == 1 {
            "a: publish 1/txn, 8 conns"
        } else {
            "b: publish batches of 100, 8 conns"
        },
        system: system.name(),
        messages: (c1 - c0) as f64,
        seconds: (t1 - t0).as_secs_f64(),
        latencies: Vec::new(),
        wal_bytes: w1 - w0,
        note: String::new(),
    }
}

/// (c) and (f): every connection polls 10 and completes them until the backlog is gone (or
/// the time limit); (f) with another session holding a snapshot open all the while.
fn consume_backlog(
    system: &dyn System,
    cluster: &Cluster,
    cfg: &Config,
    queue: &str,
    shards: usize,
    hold_snapshot: bool,
) -> Measurement {
    let mut admin = cluster.connect();
    system.fill_backlog(&mut admin, queue, shards, cfg.backlog);
    settle(&mut admin);
    let mut holder = cluster.connect();
    if hold_snapshot {
        holder
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM pg_class")
            .expect("hold a snapshot");
    }
    let _ticker = Ticker::start(system, cluster);
    let stop = Arc::new(AtomicBool::new(false));
    let taken = Arc::new(AtomicI64::new(0));
    // The whole drain is measured, from the moment every consumer is connected and ready
    // (a warm-up would let the fastest systems drain the backlog before measuring starts).
    let ready = Arc::new(Barrier::new(cfg.connections + 1));
    let handles: Vec<_> = sessions(system, cluster, queue, cfg.connections, shards)
        .into_iter()
        .map(|mut session| {
            let (stop, taken, ready) = (Arc::clone(&stop), Arc::clone(&taken), Arc::clone(&ready));
            thread::spawn(move || {
                ready.wait();
                while !stop.load(Ordering::Relaxed) {
                    let got = session.consume(10, None);
                    if got.is_empty() {
                        thread::sleep(Duration::from_millis(1));
                    }
                    taken.fetch_add(got.len() as i64, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let (c0, w0) = (
        system.consumed(&mut admin, queue, shards),
        wal_position(&mut admin),
    );
    ready.wait();
    let t0 = Instant::now();
    while taken.load(Ordering::Relaxed) < cfg.backlog && t0.elapsed() < cfg.consume_for {
        thread::sleep(Duration::from_millis(2));
    }
    let (t1, w1) = (Instant::now(), wal_position(&mut admin));
    stop.store(true, Ordering::Relaxed);
    handles
        .into_iter()
        .for_each(|h| h.join().expect("consumer"));
    let c1 = system.consumed(&mut admin, queue, shards);
    if hold_snapshot {
        holder
            .batch_execute("ROLLBACK")
            .expect("release the snapshot");
    }
    let drained = c1 >= cfg.backlog;
    Measurement {
        scenario: if hold_snapshot {
            "f: consume backlog, snapshot held open"
        } else {
            "c: consume backlog, poll 10 + complete, 8 conns"
        },
        system: system.name(),
        messages: (c1 - c0) as f64,
        seconds: (t1 - t0).as_secs_f64(),
        latencies: Vec::new(),
        wal_bytes: w1 - w0,
        note: if drained {
            format!("{} msgs drained", cfg.backlog)
        } else {
            format!("{c1} of {} consumed in the time limit", cfg.backlog)
        },
    }
}

/// (d): half the connections publish (flat out, or paced to the offered rate), half consume;
/// throughput and publish → delivery latency over the measured window.
fn steady(
    system: &dyn System,
    cluster: &Cluster,
    cfg: &Config,
    queue: &str,
    shards: usize,
    paced: bool,
) -> Measurement {
    let mut admin = cluster.connect();
    settle(&mut admin);
    let _ticker = Ticker::start(system, cluster);
    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));
    let producers = cfg.connections / 2;
    let interval = Duration::from_secs_f64(producers as f64 / f64::from(cfg.offered_rate));
    let producer_handles: Vec<_> = sessions(system, cluster, queue, producers, shards)
        .into_iter()
        .map(|mut session| {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                let start = Instant::now();
                let start_micros = payload::now_micros();
                let mut n = 0_i64;
                while !stop.load(Ordering::Relaxed) {
                    let sent_at = if paced {
                        // Open loop: each message has its scheduled time, and latency counts
                        // from it, so a stall shows up as latency instead of hiding.
                        let due = interval * n as u32;
                        let now = start.elapsed();
                        if due > now {
                            thread::sleep(due - now);
                        }
                        start_micros + due.as_micros() as i64
                    } else {
                        payload::now_micros()
                    };
                    session.publish(&payload::make(n, sent_at));
                    n += 1;
                }
            })
        })
        .collect();
    let wait = paced.then_some(Duration::from_secs(1));
    let consumer_handles: Vec<_> = sessions(system, cluster, queue, producers, shards)
        .into_iter()
        .map(|mut session| {
            let (stop, measuring) = (Arc::clone(&stop), Arc::clone(&measuring));
            thread::spawn(move || {
                let mut latencies = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let got = session.consume(10, wait);
                    if got.is_empty() && !(wait.is_some() && session.waits()) {
                        thread::sleep(Duration::from_millis(1));
                    }
                    if measuring.load(Ordering::Relaxed) {
                        latencies.extend(got.iter().filter_map(|(p, at)| payload::age_ms(p, *at)));
                    }
                }
                latencies
            })
        })
        .collect();
    thread::sleep(cfg.warmup);
    measuring.store(true, Ordering::Relaxed);
    let (c0, t0, w0) = (
        system.consumed(&mut admin, queue, shards),
        Instant::now(),
        wal_position(&mut admin),
    );
    thread::sleep(cfg.steady_for);
    let (c1, t1, w1) = (
        system.consumed(&mut admin, queue, shards),
        Instant::now(),
        wal_position(&mut admin),
    );
    measuring.store(false, Ordering::Relaxed);
    let published = system.published(&mut admin, queue, shards);
    stop.store(true, Ordering::Relaxed);
    producer_handles
        .into_iter()
        .for_each(|h| h.join().expect("producer"));
    let latencies: Vec<f64> = consumer_handles
        .into_iter()
        .flat_map(|h| h.join().expect("consumer"))
        .collect();
    Measurement {
        scenario: if paced {
            "d': steady state at 1,000 msgs/s offered, 4 + 4 conns"
        } else {
            "d: steady state, 4 producers + 4 consumers"
        },
        system: system.name(),
        messages: (c1 - c0) as f64,
        seconds: (t1 - t0).as_secs_f64(),
        latencies,
        wal_bytes: w1 - w0,
        note: format!("backlog at end {}", published - c1),
    }
}

/// (e): one connection claims and completes one message at a time while the table holds a
/// small and then a large number of completed rows.
fn claim_latency(
    system: &dyn System,
    cluster: &Cluster,
    cfg: &Config,
    queue: &str,
) -> Vec<Measurement> {
    let mut admin = cluster.connect();
    let mut session = system.session(cluster.connect(), queue, 0, 1);
    let mut rows = Vec::new();
    let mut filled = 0;
    for history in cfg.history {
        system.fill_history(&mut admin, queue, history - filled);
        filled = history;
        settle(&mut admin);
        let mut latencies = Vec::with_capacity(cfg.claims);
        let mut timed = Duration::ZERO;
        for n in 0..cfg.claims {
            session.publish(&payload::make(n as i64, payload::now_micros()));
            system.flush(&mut admin, queue, 1);
            let t = Instant::now();
            let got = session.consume(1, None);
            let took = t.elapsed();
            assert_eq!(
                got.len(),
                1,
                "{}: the published message was not claimed",
                system.name()
            );
            timed += took;
            latencies.push(took.as_secs_f64() * 1000.0);
        }
        rows.push(Measurement {
            scenario: if history == cfg.history[0] {
                "e: claim latency, small history"
            } else {
                "e: claim latency, large history"
            },
            system: system.name(),
            messages: cfg.claims as f64,
            seconds: timed.as_secs_f64(),
            latencies,
            wal_bytes: 0,
            note: format!("{history} completed rows; poll 1 + complete, 1 conn"),
        });
    }
    rows
}
