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
use crate::stats;
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
    ScheduledPoll,
    Monitoring,
    Fanout,
    Ordered,
}

impl Scenario {
    pub const ALL: [Scenario; 11] = [
        Scenario::PublishOne,
        Scenario::PublishBatch,
        Scenario::ConsumeBacklog,
        Scenario::SteadyState,
        Scenario::SteadyPaced,
        Scenario::ClaimLatency,
        Scenario::HeldSnapshot,
        Scenario::ScheduledPoll,
        Scenario::Monitoring,
        Scenario::Fanout,
        Scenario::Ordered,
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
            Scenario::ScheduledPoll => "g",
            Scenario::Monitoring => "h",
            Scenario::Fanout => "i",
            Scenario::Ordered => "j",
        }
    }

    /// Whether the scenario runs once per system instead of in rounds: these fill large
    /// tables (a million rows or more in the full run) and measure latency, not rates.
    pub fn one_round(self) -> bool {
        matches!(
            self,
            Scenario::ClaimLatency
                | Scenario::ScheduledPoll
                | Scenario::Monitoring
                | Scenario::Ordered
        )
    }
}

/// Runs a scenario for one system; returns its rows (two for claim latency, four for
/// scheduled polls, one per monitoring call and size for monitoring).
pub fn run(
    scenario: Scenario,
    system: &dyn System,
    cluster: &Cluster,
    cfg: &Config,
    n: usize,
) -> Vec<Measurement> {
    let queue = format!("bench_{}_{n}", scenario.key().replace('\'', "p"));
    if scenario == Scenario::Monitoring {
        // Many topics of its own, created and removed by the scenario.
        return monitoring(system, cluster, cfg, &queue);
    }
    if scenario == Scenario::Fanout {
        return cfg
            .fanout_groups
            .iter()
            .flat_map(|groups| fanout(system, cluster, cfg, &format!("{queue}_{groups}"), *groups))
            .collect();
    }
    if scenario == Scenario::Ordered {
        return [false, true]
            .into_iter()
            .map(|keyed| ordered(system, cluster, cfg, &queue, keyed))
            .collect();
    }
    let mut admin = cluster.connect();
    let shards = match scenario {
        Scenario::SteadyState | Scenario::SteadyPaced => cfg.connections / 2,
        Scenario::ClaimLatency | Scenario::ScheduledPoll => 1,
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
        Scenario::ScheduledPoll => scheduled_poll(system, cluster, cfg, &queue),
        Scenario::Monitoring | Scenario::Fanout | Scenario::Ordered => {
            unreachable!("returned above")
        }
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
        scenario: (if batch == 1 {
            "a: publish 1/txn, 8 conns"
        } else {
            "b: publish batches of 100, 8 conns"
        })
        .into(),
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
        scenario: (if hold_snapshot {
            "f: consume backlog, snapshot held open"
        } else {
            "c: consume backlog, poll 10 + complete, 8 conns"
        })
        .into(),
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
        scenario: (if paced {
            "d': steady state at 1,000 msgs/s offered, 4 + 4 conns"
        } else {
            "d: steady state, 4 producers + 4 consumers"
        })
        .into(),
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
            scenario: (if history == cfg.history[0] {
                "e: claim latency, small history"
            } else {
                "e: claim latency, large history"
            })
            .into(),
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

/// Times `polls` calls of the session's consume (poll 1, and complete what came), each after
/// publishing one message (`publish`) or not; returns the latencies in milliseconds.
fn time_polls(
    system: &dyn System,
    session: &mut dyn Session,
    admin: &mut Client,
    queue: &str,
    polls: usize,
    publish: bool,
) -> Vec<f64> {
    (0..polls)
        .map(|n| {
            if publish {
                session.publish(&payload::make(n as i64, payload::now_micros()));
                system.flush(admin, queue, 1);
            }
            let t = Instant::now();
            let got = session.consume(1, None);
            let took = t.elapsed();
            assert_eq!(
                got.len(),
                usize::from(publish),
                "{}: poll {n} of {queue} claimed {} messages",
                system.name(),
                got.len()
            );
            took.as_secs_f64() * 1000.0
        })
        .collect()
}

/// (g): one connection polls its topic, empty and with one message waiting (poll 1 +
/// complete, the publish not timed), before and after `cfg.scheduled` messages due in an hour
/// are added to the topic.
fn scheduled_poll(
    system: &dyn System,
    cluster: &Cluster,
    cfg: &Config,
    queue: &str,
) -> Vec<Measurement> {
    let mut admin = cluster.connect();
    let mut session = system.session(cluster.connect(), queue, 0, 1);
    let mut runs = |admin: &mut Client| {
        settle(admin);
        let empty = time_polls(system, session.as_mut(), admin, queue, cfg.polls, false);
        let one = time_polls(system, session.as_mut(), admin, queue, cfg.polls, true);
        (empty, one)
    };
    let (empty, one) = runs(&mut admin);
    system.fill_scheduled(&mut admin, queue, cfg.scheduled);
    let (empty_scheduled, one_scheduled) = runs(&mut admin);
    let p50 = |l: &[f64]| stats::latency(l.to_vec()).map_or(f64::NAN, |l| l.p50);
    let with = |scheduled: &[f64], without: &[f64]| {
        format!(
            "{} scheduled; {:.2}x the same poll without",
            cfg.scheduled,
            p50(scheduled) / p50(without)
        )
    };
    let without = format!("{} polls, 1 conn", cfg.polls);
    let notes = [
        without.clone(),
        with(&empty_scheduled, &empty),
        without,
        with(&one_scheduled, &one),
    ];
    [
        "g: empty poll, nothing scheduled",
        "g: empty poll, messages scheduled an hour out",
        "g: poll 1 + complete, nothing scheduled",
        "g: poll 1 + complete, messages scheduled an hour out",
    ]
    .into_iter()
    .zip([empty, empty_scheduled, one, one_scheduled])
    .zip(notes)
    .map(|((scenario, latencies), note)| Measurement {
        scenario: scenario.into(),
        system: system.name(),
        messages: 0.0,
        seconds: 0.0,
        latencies,
        wal_bytes: 0,
        note,
    })
    .collect()
}

/// (i): a topic delivered to `groups` groups. `cfg.fanout_messages` messages are published
/// in batches of 50 by half the connections (timed: messages per second), then every group's
/// deliveries are consumed to the end by all the connections, each taking groups in turn
/// (timed: deliveries per second). The note gives the disk the system's tables grew by per
/// message published.
fn fanout(
    system: &dyn System,
    cluster: &Cluster,
    cfg: &Config,
    topic: &str,
    groups: usize,
) -> Vec<Measurement> {
    const BATCH: i64 = 50;
    let mut admin = cluster.connect();
    system.fanout_create(&mut admin, topic, groups);
    settle(&mut admin);
    let storage_before = system.fanout_storage(&mut admin, topic, groups);
    let publishers = (cfg.connections / 2).max(1);
    let per_publisher = cfg.fanout_messages / publishers as i64;
    let (w0, t0) = (wal_position(&mut admin), Instant::now());
    let handles: Vec<_> = (0..publishers)
        .map(|p| {
            let mut session = system.fanout_session(cluster.connect(), topic, groups);
            thread::spawn(move || {
                let mut n = 0;
                while n < per_publisher {
                    let now = payload::now_micros();
                    let size = BATCH.min(per_publisher - n);
                    let payloads: Vec<_> = (0..size)
                        .map(|i| payload::make(p as i64 * per_publisher + n + i, now))
                        .collect();
                    session.publish_batch(&payloads);
                    n += size;
                }
            })
        })
        .collect();
    handles
        .into_iter()
        .for_each(|h| h.join().expect("publisher"));
    let (w1, t1) = (wal_position(&mut admin), Instant::now());
    let published = per_publisher * publishers as i64;
    let storage = system.fanout_storage(&mut admin, topic, groups) - storage_before;

    let consumers = cfg.connections;
    let t2 = Instant::now();
    let consumed: usize = (0..consumers)
        .map(|c| {
            let mut session = system.fanout_session(cluster.connect(), topic, groups);
            thread::spawn(move || {
                // More groups than consumers: each takes every consumers-th group; fewer: each
                // group gets several consumers.
                let mine: Vec<usize> = if groups >= consumers {
                    (0..groups).filter(|g| g % consumers == c).collect()
                } else {
                    vec![c % groups]
                };
                let mut total = 0;
                let mut empty = vec![false; mine.len()];
                while empty.iter().any(|e| !e) {
                    for (i, g) in mine.iter().enumerate() {
                        let n = session.consume(*g, 50);
                        empty[i] = n == 0;
                        total += n;
                    }
                }
                total
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().expect("consumer"))
        .sum();
    let t3 = Instant::now();
    system.fanout_drop(&mut admin, topic, groups);
    let note = format!(
        "{} messages; {} KB of tables a message",
        published,
        storage / published.max(1) / 1024
    );
    vec![
        Measurement {
            scenario: format!("i: fan-out to {groups} groups: publish (batches of {BATCH})"),
            system: system.name(),
            messages: published as f64,
            seconds: (t1 - t0).as_secs_f64(),
            latencies: Vec::new(),
            wal_bytes: w1 - w0,
            note,
        },
        Measurement {
            scenario: format!("i: fan-out to {groups} groups: consume every delivery"),
            system: system.name(),
            messages: consumed as f64,
            seconds: (t3 - t2).as_secs_f64(),
            latencies: Vec::new(),
            wal_bytes: 0,
            note: format!("{} deliveries", published * groups as i64),
        },
    ]
}

/// (j): a backlog of `cfg.ordering_keys` keys × `cfg.ordering_per_key` messages (keys
/// interleaved, as producers of many orders publish them), consumed by 8 pollers in batches of
/// 10 until it is empty or `cfg.ordering_for` has passed. With `keyed` the messages carry
/// their keys (pg_mq: ordering keys; pgmq: the FIFO group header read by its grouped read);
/// without, the same backlog is consumed as plain messages.
fn ordered(
    system: &dyn System,
    cluster: &Cluster,
    cfg: &Config,
    queue: &str,
    keyed: bool,
) -> Measurement {
    const POLLERS: usize = 8;
    let queue = format!("{queue}_{}", if keyed { "keyed" } else { "plain" });
    let mut admin = cluster.connect();
    system.create(&mut admin, &queue, 1);
    let total = cfg.ordering_keys * cfg.ordering_per_key;
    let total_messages = total;
    system.ordered_fill(&mut admin, &queue, cfg.ordering_keys, total, keyed);
    settle(&mut admin);
    let deadline = Instant::now() + cfg.ordering_for;
    let t0 = Instant::now();
    // An empty poll does not mean the backlog is done (the others hold the keys' heads): the
    // pollers go on until everything is consumed or the time is up.
    let done = Arc::new(AtomicI64::new(0));
    let consumed: usize = (0..POLLERS)
        .map(|_| {
            let mut session =
                system.ordered_session(cluster.connect(), &queue, keyed, cfg.ordering_for);
            let done = done.clone();
            thread::spawn(move || {
                let mut total = 0;
                while Instant::now() < deadline && done.load(Ordering::Relaxed) < total_messages {
                    let n = session.consume(10);
                    if n == 0 {
                        thread::sleep(Duration::from_millis(1));
                    }
                    done.fetch_add(n as i64, Ordering::Relaxed);
                    total += n;
                }
                total
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().expect("consumer"))
        .sum();
    let seconds = t0.elapsed().as_secs_f64();
    system.drop(&mut admin, &queue, 1);
    Measurement {
        scenario: format!(
            "j: {} keys × {}, {POLLERS} pollers: consume {}",
            thousands(cfg.ordering_keys),
            cfg.ordering_per_key,
            if keyed {
                "by key, in order"
            } else {
                "the same backlog without keys"
            }
        ),
        system: system.name(),
        messages: consumed as f64,
        seconds,
        latencies: Vec::new(),
        wal_bytes: 0,
        note: if (consumed as i64) < total {
            format!(
                "{consumed} of {total} consumed in the {} s allowed",
                cfg.ordering_for.as_secs()
            )
        } else {
            format!("{total} messages")
        },
    }
}

/// 1234567 as "1,234,567".
fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

/// (h): due messages spread over many topics; each of the system's monitoring calls is timed
/// `cfg.monitoring_calls` times after an unmeasured warm-up call, for each size. The latency
/// columns then show the median (p50) and the maximum (p95 and p99: the nearest rank of 7
/// samples).
fn monitoring(
    system: &dyn System,
    cluster: &Cluster,
    cfg: &Config,
    prefix: &str,
) -> Vec<Measurement> {
    let mut admin = cluster.connect();
    let mut rows = Vec::new();
    for &(messages, topics) in &cfg.monitoring {
        let fill_note = system.fill_topics(&mut admin, prefix, topics, messages);
        settle(&mut admin);
        for (label, sql) in system.monitoring_calls() {
            let statement = admin.prepare(sql).unwrap();
            admin.query(&statement, &[]).unwrap();
            let latencies = (0..cfg.monitoring_calls)
                .map(|_| {
                    let t = Instant::now();
                    admin.query(&statement, &[]).unwrap();
                    t.elapsed().as_secs_f64() * 1000.0
                })
                .collect();
            let mut note = format!(
                "`{sql}`; {} calls: p50 = median, p95 = p99 = max",
                cfg.monitoring_calls
            );
            if !fill_note.is_empty() {
                note = format!("{note}; {fill_note}");
            }
            rows.push(Measurement {
                scenario: format!(
                    "h: monitoring, {} msgs over {} topics",
                    thousands(messages),
                    thousands(topics)
                ),
                system: label.into(),
                messages: 0.0,
                seconds: 0.0,
                latencies,
                wal_bytes: 0,
                note,
            });
        }
        system.drop_topics(&mut admin, prefix, topics);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(10_000_000), "10,000,000");
        assert_eq!(thousands(-1_234), "-1,234");
    }

    #[test]
    fn keys_are_unique() {
        let mut keys: Vec<_> = Scenario::ALL.iter().map(|s| s.key()).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), Scenario::ALL.len());
    }
}
