//! Metrics against a live server: rates over real time, the Prometheus text through the
//! official Prometheus Python parser, and the dashboard built from the worker's samples.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pg_mq_live_tests::{run_suite, wait_until, Client, Cluster};
use serde_json::Value;

fn main() {
    run_suite(
        "monitoring",
        &["pg_mq.metrics_sample_interval = '1s'"],
        &[
            (
                "rates_follow_a_scripted_workload",
                rates_follow_a_scripted_workload,
            ),
            (
                "prometheus_text_parses_with_the_prometheus_parser",
                prometheus_text_parses_with_the_prometheus_parser,
            ),
            (
                "dashboard_time_series_come_from_worker_samples",
                dashboard_time_series_come_from_worker_samples,
            ),
        ],
    );
}

fn completed(client: &mut Client, topic: &str, n: i64) {
    client
        .execute(
            "SELECT mq_complete(id) FROM mq_poll($1, $2::int)",
            &[&topic, &(n as i32)],
        )
        .unwrap();
}

fn rates_follow_a_scripted_workload(cluster: &Cluster) {
    let mut client = cluster.connect();
    client
        .batch_execute("SET pg_mq.retry_base_delay = '1h'")
        .unwrap();
    client
        .batch_execute("SELECT mq_publish('rate', '{}') FROM generate_series(1, 40)")
        .unwrap();
    let workload_at = Instant::now();
    completed(&mut client, "rate", 30);
    client
        .batch_execute("SELECT mq_fail(id, 'no') FROM mq_poll('rate', 10)")
        .unwrap();
    // Let the worker take snapshots after the workload, one per second.
    assert!(wait_until(Duration::from_secs(5), || workload_at.elapsed()
        >= Duration::from_secs(2)));

    // Over the last hour the rates run from the cluster's first snapshot, taken before the
    // topic existed (so its counters were zero then).
    let row = client
        .query_one(
            "SELECT consume_rate, failure_rate, dlq_rate, success_ratio, consumed_total, failed_total, \
                    extract(epoch FROM clock_timestamp() - (SELECT min(sampled_at) FROM mq.metric_snapshots))::float8 \
             FROM mq_metrics('1 hour') WHERE topic = 'rate'",
            &[],
        )
        .unwrap();
    let (consume, failure, dlq, ratio, since): (f64, f64, f64, f64, f64) =
        (row.get(0), row.get(1), row.get(2), row.get(3), row.get(6));
    assert_eq!(row.get::<_, i64>(4), 30);
    assert_eq!(row.get::<_, i64>(5), 10);
    let within = |actual: f64, expected: f64| (actual - expected).abs() <= expected * 0.15;
    assert!(
        within(consume, 30.0 / since),
        "consume_rate {consume}, expected about {}",
        30.0 / since
    );
    assert!(
        within(failure, 10.0 / since),
        "failure_rate {failure}, expected about {}",
        10.0 / since
    );
    assert_eq!(dlq, 0.0);
    assert!((ratio - 0.75).abs() < 1e-9, "success_ratio {ratio}");

    // Over the last second nothing was consumed: the baseline is a snapshot taken after the
    // workload.
    let row = client
        .query_one(
            "SELECT consume_rate, success_ratio FROM mq_metrics('1 second') WHERE topic = 'rate'",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, Option<f64>>(0), Some(0.0));
    assert_eq!(row.get::<_, Option<f64>>(1), None);
}

/// Parses Prometheus text with prometheus_client's parser (the Prometheus project's Python
/// client) and returns {family: {"type": ..., "samples": {topic: value}}}.
fn parse_prometheus(text: &str) -> Value {
    const PARSER: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    entry = out.setdefault(family.name, {"type": family.type, "help": family.documentation, "samples": {}})
    for sample in family.samples:
        entry["samples"][sample.name + "|" + sample.labels.get("topic", "")] = sample.value
print(json.dumps(out))
"#;
    let python = std::env::var("PG_MQ_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".to_owned());
    let mut child = Command::new(&python)
        .args(["-c", PARSER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {python}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the Prometheus parser rejected the text: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn prometheus_text_parses_with_the_prometheus_parser(cluster: &Cluster) {
    let mut client = cluster.connect();
    client
        .batch_execute(
            "SET pg_mq.retry_base_delay = '1h';
             SELECT mq_publish('prom-a', '{}') FROM generate_series(1, 6);
             SELECT mq_publish('prom-b:x.y-z', '{}', max_retries => 0) FROM generate_series(1, 2);
             SELECT mq_publish('prom-b:x.y-z', '{}', delay => '1 day');",
        )
        .unwrap();
    completed(&mut client, "prom-a", 3);
    client
        .batch_execute("SELECT mq_fail(id) FROM mq_poll('prom-b:x.y-z', 2)")
        .unwrap();
    client
        .query("SELECT id FROM mq_poll('prom-a', 1)", &[])
        .unwrap();
    let text: String = client
        .query_one("SELECT mq_metrics_prometheus()", &[])
        .unwrap()
        .get(0);
    let parsed = parse_prometheus(&text);
    let expect = |family: &str, kind: &str, sample: &str, topic: &str, value: f64| {
        let entry = &parsed[family];
        assert_eq!(entry["type"], kind, "{family}: {parsed}");
        assert!(
            entry["help"].as_str().is_some_and(|h| !h.is_empty()),
            "{family} has no HELP"
        );
        let got = &entry["samples"][format!("{sample}|{topic}")];
        assert_eq!(
            got.as_f64(),
            Some(value),
            "{sample}{{topic={topic}}} in {parsed}"
        );
    };
    expect("mq_queue_depth", "gauge", "mq_queue_depth", "prom-a", 2.0);
    expect("mq_processing", "gauge", "mq_processing", "prom-a", 1.0);
    expect("mq_delayed", "gauge", "mq_delayed", "prom-b:x.y-z", 1.0);
    // The parser names a counter family without _total and its samples with it.
    expect("mq_consumed", "counter", "mq_consumed_total", "prom-a", 3.0);
    expect(
        "mq_failed",
        "counter",
        "mq_failed_total",
        "prom-b:x.y-z",
        2.0,
    );
    expect("mq_dlq", "counter", "mq_dlq_total", "prom-b:x.y-z", 2.0);
    let age = parsed["mq_oldest_pending_age_seconds"]["samples"]
        ["mq_oldest_pending_age_seconds|prom-a"]
        .as_f64()
        .expect("oldest pending age of prom-a");
    assert!((0.0..3600.0).contains(&age), "{age}");
}

fn dashboard_time_series_come_from_worker_samples(cluster: &Cluster) {
    let mut client = cluster.connect();
    client
        .batch_execute("SELECT mq_publish('dash', '{}') FROM generate_series(1, 1000)")
        .unwrap();
    // Consume steadily while the worker samples every second, until it has written five
    // samples of the topic.
    let samples = |client: &mut Client| -> i64 {
        client
            .query_one(
                "SELECT count(*) FROM mq.metric_samples WHERE topic = 'dash'",
                &[],
            )
            .unwrap()
            .get(0)
    };
    let sampled = wait_until(Duration::from_secs(20), || {
        completed(&mut client, "dash", 1);
        samples(&mut client) >= 5
    });
    assert!(
        sampled,
        "the worker wrote {} samples in 20s at one per second",
        samples(&mut client)
    );

    let doc: Value = client
        .query_one("SELECT mq_dashboard('4 seconds', '1 second')", &[])
        .unwrap()
        .get(0);
    let current = &doc["current"];
    let consumed = current["consumedTotal"]["byTopic"]["dash"]
        .as_i64()
        .unwrap();
    assert_eq!(
        consumed,
        1000 - current["queueDepth"]["byTopic"]["dash"].as_i64().unwrap()
    );
    assert!(current["consumeRate"]["byTopic"]["dash"].as_f64().unwrap() > 0.0);
    assert_eq!(current["successRatioByTopic"]["dash"], 1.0);
    let depth = doc["timeSeries"]["queueDepth"].as_array().unwrap();
    assert_eq!(depth.len(), 4);
    let with_dash: Vec<i64> = depth.iter().filter_map(|p| p["dash"].as_i64()).collect();
    assert!(with_dash.len() >= 3, "{depth:?}");
    assert!(
        with_dash.windows(2).all(|w| w[0] >= w[1]),
        "queue depth only falls: {with_dash:?}"
    );
    let rates: Vec<f64> = doc["timeSeries"]["consumeRate"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["dash"].as_f64())
        .collect();
    assert!(
        !rates.is_empty() && rates.iter().any(|r| *r > 0.0),
        "{rates:?}"
    );
}
