//! pg_mq's benchmark: pg_mq (trace on and off) against hand-written SQL, PgQ and pgmq on one
//! PostgreSQL 15 server, same settings for all, in one run.
//!
//! Usage: pg_mq_bench [--quick] [--scale] [--statements] [--out DIR] [--only SCENARIO[,SCENARIO]]
//!                    [--systems NAME[,NAME]]
//! Writes DIR/results.md and DIR/results.json (DIR defaults to target/bench). `--scale` also
//! runs the monitoring scenario (h) at 10,000,000 messages over 10,000 topics.

mod config;
mod install;
mod payload;
mod report;
mod scenarios;
mod stats;
mod systems;

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use pg_mq_live_tests::Cluster;
use serde_json::json;

use crate::config::Config;
use crate::scenarios::Scenario;
use crate::systems::{PgMq, PgQ, Pgmq, RawSql, System};

/// The server settings every system runs with.
const SERVER_SETTINGS: &[&str] = &[
    "fsync = on",
    "synchronous_commit = on",
    "shared_buffers = '1GB'",
    "max_wal_size = '8GB'",
    "checkpoint_timeout = '30min'",
    "max_connections = 60",
    // Queue tables churn; every system gets autovacuum looking every second instead of every
    // minute (per-table thresholds are each system's own).
    "autovacuum_naptime = '1s'",
];

struct Args {
    quick: bool,
    /// Also run (h) at 10,000,000 messages over 10,000 topics.
    scale: bool,
    /// Record per-statement times (pg_stat_statements, nested statements too) for each run.
    statements: bool,
    out: PathBuf,
    only: Option<Vec<String>>,
    systems: Option<Vec<String>>,
}

fn parse_args() -> Args {
    let mut args = Args {
        quick: false,
        scale: false,
        statements: false,
        out: PathBuf::from("target/bench"),
        only: None,
        systems: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => args.quick = true,
            "--scale" => args.scale = true,
            "--statements" => args.statements = true,
            "--out" => args.out = PathBuf::from(it.next().expect("--out DIR")),
            "--only" => args.only = Some(list(it.next().expect("--only a,b,..."))),
            "--systems" => args.systems = Some(list(it.next().expect("--systems name,..."))),
            other => panic!("unknown argument {other:?}"),
        }
    }
    args
}

fn list(s: String) -> Vec<String> {
    s.split(',').map(|x| x.trim().to_lowercase()).collect()
}

fn command_output(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn machine() -> serde_json::Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("unknown")
        .trim()
        .to_owned();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_gib = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| (kb / 1024.0 / 1024.0 * 10.0).round() / 10.0);
    json!({
        "cpu": cpu,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "memory_gib": memory_gib,
        "kernel": command_output("uname", &["-r"]),
    })
}

/// The statements that took the most time in the last run, as a Markdown table.
fn statement_profile(admin: &mut postgres::Client, scenario: &str, system: &str) -> String {
    let rows = admin
        .query(
            "SELECT calls, total_exec_time / calls * 1000 AS us, total_exec_time, \
                    left(regexp_replace(query, '\\s+', ' ', 'g'), 140) \
             FROM pg_stat_statements WHERE calls > 0 ORDER BY total_exec_time DESC LIMIT 8",
            &[],
        )
        .expect("read pg_stat_statements");
    let mut out = format!("\n### {scenario} — {system}\n\n| calls | µs/call | total ms | statement |\n|---:|---:|---:|---|\n");
    for row in rows {
        let (calls, us, total, query): (i64, f64, f64, String) =
            (row.get(0), row.get(1), row.get(2), row.get(3));
        out.push_str(&format!(
            "| {calls} | {us:.1} | {total:.0} | `{}` |\n",
            query.replace('|', "\\|")
        ));
    }
    out
}

fn main() {
    let args = parse_args();
    let mut cfg = if args.quick {
        Config::quick()
    } else {
        Config::full()
    };
    if args.scale {
        cfg.monitoring.push((10_000_000, 10_000));
    }
    let started = Instant::now();

    let mut settings: Vec<&str> = SERVER_SETTINGS.to_vec();
    if args.statements {
        settings.extend([
            "shared_preload_libraries = 'pg_mq,pg_stat_statements'",
            "pg_stat_statements.track = 'all'",
        ]);
    }
    let cluster = Cluster::start("bench", &settings);
    install::SERVER
        .set((cluster.socket_dir().display().to_string(), cluster.port()))
        .expect("server set once");
    let mut admin = cluster.connect();
    let server_version: String = admin.query_one("SELECT version()", &[]).unwrap().get(0);

    let all: Vec<Box<dyn System>> = vec![
        Box::new(RawSql),
        Box::new(PgQ),
        Box::new(Pgmq),
        Box::new(PgMq { trace: true }),
        Box::new(PgMq { trace: false }),
    ];
    let systems: Vec<&dyn System> = all
        .iter()
        .map(|s| s.as_ref())
        .filter(|s| {
            args.systems
                .as_ref()
                .is_none_or(|names| names.iter().any(|n| s.name().to_lowercase().contains(n)))
        })
        .collect();
    for system in &systems {
        system.install(&mut admin);
    }
    let mut profile = String::new();
    if args.statements {
        admin
            .batch_execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            .expect("pg_stat_statements");
    }

    let mut measurements = Vec::new();
    let mut n = 0;
    for scenario in Scenario::ALL {
        if let Some(only) = &args.only {
            if !only.iter().any(|k| k == scenario.key()) {
                continue;
            }
        }
        // Claim latency, scheduled polls and monitoring fill a million rows or more: one
        // round; every other scenario runs in rounds, the systems taking turns.
        let rounds = if scenario.one_round() { 1 } else { cfg.rounds };
        for _round in 0..rounds {
            for system in &systems {
                if !system.runs(scenario) {
                    continue;
                }
                n += 1;
                let t = Instant::now();
                if args.statements {
                    admin
                        .batch_execute("SELECT pg_stat_statements_reset()")
                        .unwrap();
                }
                let result = scenarios::run(scenario, *system, &cluster, &cfg, n);
                if args.statements {
                    profile.push_str(&statement_profile(
                        &mut admin,
                        scenario.key(),
                        &system.name(),
                    ));
                }
                for m in &result {
                    eprintln!(
                        "[{:>5.0}s] {:<55} {:<16} {:>17} {}({:.1}s)",
                        started.elapsed().as_secs_f64(),
                        m.scenario,
                        m.system,
                        if m.seconds > 0.0 {
                            format!("{:.0} msgs/s", m.messages / m.seconds)
                        } else {
                            String::new()
                        },
                        stats::latency(m.latencies.clone())
                            .map(|l| format!("p50 {:.2} p99 {:.2} ms ", l.p50, l.p99))
                            .unwrap_or_default(),
                        t.elapsed().as_secs_f64()
                    );
                }
                measurements.extend(result);
            }
        }
    }
    let rows = report::merge(measurements);

    let meta = json!({
        "mode": if cfg.quick { "quick" } else { "full" },
        "date": command_output("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]),
        "pg_mq_commit": command_output("git", &["rev-parse", "--short", "HEAD"]),
        "machine": machine(),
        "server": server_version,
        "server_settings": SERVER_SETTINGS,
        "config": format!("{cfg:?}"),
        "runtime_seconds": started.elapsed().as_secs_f64(),
    });
    let header = format!(
        "## pg_mq benchmark ({} run, {})\n\nMachine: {}, {} cores, {} GiB. Server: {}.\nSettings for every system: {}; the pg_mq background worker runs with its defaults.\nEach scenario but e, g and h ran in {} rounds, the systems taking turns; rates are over all rounds, latencies over all samples.\n{}",
        meta["mode"].as_str().unwrap_or(""),
        meta["date"].as_str().unwrap_or(""),
        meta["machine"]["cpu"].as_str().unwrap_or(""),
        meta["machine"]["cores"],
        meta["machine"]["memory_gib"],
        server_version.split(" on ").next().unwrap_or(&server_version),
        SERVER_SETTINGS.join(", "),
        cfg.rounds,
        if rows.iter().any(|r| r.scenario.starts_with("g:") || r.scenario.starts_with("h:")) {
            "g and h ran for raw SQL, pgmq and pg_mq, not for PgQ; h for pg_mq once (its monitoring reads counters that do not depend on pg_mq.trace). \
             g and h measure latency only: in h, p50 is the median of the calls and p95 and p99 their maximum.\n"
        } else {
            ""
        },
    );
    let mut markdown = report::markdown(&rows, &header);
    if args.statements {
        markdown
            .push_str("\n## Statement times (pg_stat_statements, nested statements included)\n");
        markdown.push_str(&profile);
    }
    std::fs::create_dir_all(&args.out).expect("create output directory");
    std::fs::write(args.out.join("results.md"), &markdown).expect("write results.md");
    std::fs::write(
        args.out.join("results.json"),
        serde_json::to_string_pretty(&report::json(&rows, meta)).unwrap(),
    )
    .expect("write results.json");
    println!("{markdown}");
    eprintln!(
        "wrote {}/results.md and results.json in {:.0}s",
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
}
