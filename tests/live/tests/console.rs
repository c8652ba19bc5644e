//! The web console (console/, binary mq-console) against a live server: each test seeds
//! topics, messages and dead letters, starts mq-console as an admin role and as a monitor
//! role, drives it with headless Chromium (tests/browser, playwright-core and Debian's
//! /usr/bin/chromium) or plain HTTP, and then checks the database.
//!
//! `scripts/browser.sh` installs what this needs (chromium, `npm ci` in tests/browser),
//! builds mq-console and runs this suite. The binary is `MQ_CONSOLE_BIN` when set, else what
//! `cargo build -p mq_console` produces. Screenshots go to target/browser-artifacts/.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use pg_mq_live_tests::{run_suite, wait_until, Client, Cluster, Test};
use serde_json::Value;

/// The scenarios that run. Each seeds topics of its own, so they do not see each other's.
const TESTS: &[Test] = &[
    (
        "healthz_and_api_authentication",
        healthz_and_api_authentication,
    ),
    (
        "consumers_and_health_pages_for_a_monitor",
        consumers_and_health_pages_for_a_monitor,
    ),
    ("no_token_means_loopback_only", no_token_means_loopback_only),
    (
        "overview_lists_the_seeded_topics_and_updates_live",
        overview_lists_the_seeded_topics_and_updates_live,
    ),
    (
        "message_page_shows_the_trace_timeline",
        message_page_shows_the_trace_timeline,
    ),
    (
        "replay_one_dead_letter_from_the_ui",
        replay_one_dead_letter_from_the_ui,
    ),
    (
        "replay_selected_dead_letters_from_the_ui",
        replay_selected_dead_letters_from_the_ui,
    ),
    (
        "replay_everything_matching_the_filter",
        replay_everything_matching_the_filter,
    ),
    (
        "monitor_sees_no_actions_and_gets_403",
        monitor_sees_no_actions_and_gets_403,
    ),
    (
        "a_post_without_the_csrf_token_is_refused",
        a_post_without_the_csrf_token_is_refused,
    ),
    (
        "pause_and_resume_a_topic_from_the_ui",
        pause_and_resume_a_topic_from_the_ui,
    ),
];

/// Scenarios that need functions pg_mq does not have yet, with what they need. Move each
/// into TESTS once the installed pg_mq has it (the console itself already copes without).
/// Pause and resume waited here until mq_pause, mq_resume and mq_topics came in.
const WAITING_FOR_PG_MQ: &[(&str, Test)] = &[];

const TOKEN: &str = "console-test-token-0123456789";
const ADMIN: &str = "console_admin";
const MONITOR: &str = "console_monitor";

fn main() {
    for (needs, (name, _)) in WAITING_FOR_PG_MQ {
        println!("  not in this suite until pg_mq has {needs}: {name}");
    }
    run_suite("console", &["pg_mq.metrics_sample_interval = '1s'"], TESTS);
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

fn artifacts() -> PathBuf {
    let dir = target_dir().join("browser-artifacts");
    std::fs::create_dir_all(&dir).expect("create target/browser-artifacts");
    dir
}

/// The mq-console binary: `MQ_CONSOLE_BIN`, else built once with cargo.
fn console_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("MQ_CONSOLE_BIN") {
            return PathBuf::from(bin);
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let out = Command::new(cargo)
            .args([
                "build",
                "-p",
                "mq_console",
                "--message-format=json-render-diagnostics",
            ])
            .current_dir(root())
            .stderr(Stdio::inherit())
            .output()
            .expect("run cargo build -p mq_console");
        assert!(out.status.success(), "cargo build -p mq_console failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "mq-console")
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .expect("cargo build -p mq_console named no mq-console executable")
    })
}

fn count(client: &mut Client, sql: &str, topic: &str) -> i64 {
    client
        .query_one(sql, &[&topic])
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

/// The two roles the console connects as: one with the admin capability, one with monitor.
fn ensure_roles(cluster: &Cluster) {
    let mut client = cluster.connect();
    for role in [ADMIN, MONITOR] {
        let exists: bool = client
            .query_one(
                "SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1)",
                &[&role],
            )
            .unwrap()
            .get(0);
        if !exists {
            client
                .batch_execute(&format!("CREATE ROLE {role} LOGIN"))
                .unwrap();
        }
    }
    client
        .batch_execute(&format!(
            "SELECT mq_grant('admin', '{ADMIN}'); SELECT mq_grant('monitor', '{MONITOR}');"
        ))
        .unwrap();
}

/// Publishes `n` messages to `topic` (payload {"n": i}); returns their ids.
fn publish(client: &mut Client, topic: &str, n: i32) -> Vec<i64> {
    client
        .query(
            "SELECT mq_publish($1, jsonb_build_object('n', g, 'topic', $1::text)) FROM generate_series(1, $2::int) g",
            &[&topic, &n],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Publishes `n` messages that may be retried once, then polls and fails them (retrying at
/// once) until all are dead-lettered. Returns (message id, dead letter id) pairs.
fn dead_letter(client: &mut Client, topic: &str, n: i32) -> Vec<(i64, i64)> {
    client
        .execute(
            "SELECT mq_publish($1, jsonb_build_object('order', g, 'why', 'declined'), max_retries => 1) \
             FROM generate_series(1, $2::int) g",
            &[&topic, &n],
        )
        .unwrap();
    let done = wait_until(Duration::from_secs(30), || {
        client
            .execute(
                "SELECT mq_fail(id, 'card declined', lease, retry_in => '0 seconds') FROM mq_poll($1, 1000)",
                &[&topic],
            )
            .unwrap();
        count(
            client,
            "SELECT count(*) FROM mq.dead_letters WHERE topic = $1",
            topic,
        ) >= i64::from(n)
    });
    assert!(done, "the messages of {topic} were not dead-lettered");
    client
        .query(
            "SELECT original_id, id FROM mq.dead_letters WHERE topic = $1 ORDER BY id",
            &[&topic],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// Metrics snapshots now, so that the charts have points without waiting for the worker.
fn sample(client: &mut Client) {
    client.batch_execute("SELECT mq_metrics_sample()").unwrap();
}

fn replayed(client: &mut Client, dead_letter_id: i64) -> bool {
    client
        .query_one(
            "SELECT replayed FROM mq.dead_letters WHERE id = $1",
            &[&dead_letter_id],
        )
        .unwrap()
        .get(0)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running mq-console, stopped on drop.
struct Console {
    child: Child,
    addr: SocketAddr,
}

impl Console {
    /// mq-console connected as `role`, with the test token, on a free loopback port.
    fn start(cluster: &Cluster, role: &str) -> Console {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let log = artifacts().join(format!("console-{role}-{}.log", addr.port()));
        let child = Command::new(console_bin())
            .args(["--database-url", &database_url(cluster, role)])
            .args(["--listen", &addr.to_string(), "--refresh-seconds", "1"])
            .env("MQ_CONSOLE_TOKEN", TOKEN)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("console log file"))
            .spawn()
            .expect("start mq-console");
        let mut console = Console { child, addr };
        let up = wait_until(Duration::from_secs(20), || {
            assert!(
                console.child.try_wait().unwrap().is_none(),
                "mq-console exited: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            http(addr, "GET", "/healthz", &[], "").is_ok_and(|r| r.status == 200)
        });
        assert!(up, "mq-console did not answer /healthz");
        console
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Runs browser scenario `name` (tests/browser/console.mjs) against this console.
    fn browser(&self, name: &str, vars: &[(&str, String)]) {
        let dir = root().join("tests/browser");
        assert!(
            dir.join("node_modules/playwright-core").exists(),
            "tests/browser/node_modules is missing: run scripts/browser.sh (it runs npm ci there)"
        );
        let out = Command::new("node")
            .arg("console.mjs")
            .arg(name)
            .current_dir(&dir)
            .env("MQ_CONSOLE_URL", self.url())
            .env("MQ_CONSOLE_TOKEN", TOKEN)
            .env("MQ_BROWSER_ARTIFACTS", artifacts())
            .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .expect("run node (is Node.js installed?)");
        let stdout = String::from_utf8_lossy(&out.stdout);
        for line in stdout.lines() {
            println!("  {line}");
        }
        assert!(
            out.status.success(),
            "browser scenario {name} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn database_url(cluster: &Cluster, role: &str) -> String {
    format!(
        "host={} port={} user={role} dbname=postgres",
        cluster.socket_dir().display(),
        cluster.port()
    )
}

struct HttpResponse {
    status: u16,
    headers: String,
    body: String,
}

/// One HTTP/1.0 request (the connection closes after the answer, so no chunking).
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<HttpResponse> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut request = format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        request.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes())?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw)?;
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok(HttpResponse {
        status,
        headers: head.to_ascii_lowercase(),
        body: body.to_owned(),
    })
}

fn get(console: &Console, path: &str, bearer: Option<&str>) -> HttpResponse {
    let auth = bearer.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    http(console.addr, "GET", path, &headers, "").unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

/// /healthz needs no login; the API needs the bearer token; bad ids and filters are 404 and
/// 400; pages carry the security headers; a monitor's POST with the token is 403.
fn healthz_and_api_authentication(cluster: &Cluster) {
    ensure_roles(cluster);
    let mut client = cluster.connect();
    publish(&mut client, "api.orders", 3);
    // A topic with two consumer groups: one line, its deliveries to both groups added up.
    client
        .batch_execute(
            "SELECT mq_subscribe('api-g1', 'api.fanout'), mq_subscribe('api-g2', 'api.fanout')",
        )
        .unwrap();
    publish(&mut client, "api.fanout", 2);
    let admin = Console::start(cluster, ADMIN);

    let r = get(&admin, "/healthz", None);
    assert_eq!((r.status, r.body.trim()), (200, "ok"));

    assert_eq!(get(&admin, "/api/topics", None).status, 401);
    assert!(get(&admin, "/api/topics", None)
        .headers
        .contains("www-authenticate: bearer"));
    assert_eq!(
        get(&admin, "/api/topics", Some("wrong-token-wrong-token")).status,
        401
    );
    let r = get(&admin, "/api/topics", Some(TOKEN));
    assert_eq!(r.status, 200, "{}", r.body);
    let topics: Value = serde_json::from_str(&r.body).expect("/api/topics is JSON");
    let row = topics
        .as_array()
        .expect("/api/topics is an array")
        .iter()
        .find(|t| t["topic"] == "api.orders")
        .unwrap_or_else(|| panic!("api.orders missing from {topics}"));
    assert_eq!(row["pending"], 3, "{row}");
    let fanout: Vec<&Value> = topics
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["topic"] == "api.fanout")
        .collect();
    assert_eq!(fanout.len(), 1, "api.fanout listed once: {topics}");
    assert_eq!(fanout[0]["pending"], 4, "{}", fanout[0]);

    // Pages without a session go to the login form; the API answers JSON errors.
    let r = get(&admin, "/", None);
    assert_eq!(r.status, 303);
    assert!(r.headers.contains("location: /login"), "{}", r.headers);
    assert_eq!(
        get(&admin, "/api/messages/not-a-number", Some(TOKEN)).status,
        404
    );
    assert_eq!(
        get(&admin, "/api/messages/999999999", Some(TOKEN)).status,
        404
    );
    assert_eq!(get(&admin, "/messages/-4", Some(TOKEN)).status, 404);
    assert_eq!(
        get(&admin, "/topics/no%20such%20topic", Some(TOKEN)).status,
        404
    );
    assert_eq!(
        get(&admin, "/api/dead-letters?replayed=maybe", Some(TOKEN)).status,
        400
    );
    assert_eq!(
        get(&admin, "/api/topics/api.orders?status=DONE", Some(TOKEN)).status,
        400
    );
    assert_eq!(
        get(&admin, "/api/topics/api.orders?trace_id=x'--", Some(TOKEN)).status,
        400
    );
    assert_eq!(
        get(&admin, "/api/charts?window=5y", Some(TOKEN)).status,
        400
    );
    let r = get(&admin, "/api/charts?window=1h", Some(TOKEN));
    assert_eq!(r.status, 200, "{}", r.body);

    // The message list's filters by header, ordering key and dedup key reach mq_messages.
    let tagged: i64 = client
        .query_one(
            "SELECT mq_publish('api.orders', '{}', headers => '{\"tenant\": \"acme\"}', \
                               ordering_key => 'k9', dedup_key => 'order-9')",
            &[],
        )
        .unwrap()
        .get(0);
    for filter in [
        "header=tenant%3Dacme",
        "ordering_key=k9",
        "dedup_key=order-9",
    ] {
        let r = get(
            &admin,
            &format!("/api/topics/api.orders?{filter}"),
            Some(TOKEN),
        );
        assert_eq!(r.status, 200, "{filter}: {}", r.body);
        let body: Value = serde_json::from_str(&r.body).unwrap();
        let ids: Vec<i64> = body["messages"]["data"]
            .as_array()
            .unwrap_or_else(|| panic!("{filter}: no messages in {body}"))
            .iter()
            .map(|m| m["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, [tagged], "{filter}: {body}");
    }
    let page = get(&admin, "/topics/api.orders", Some(TOKEN));
    assert_eq!(page.status, 200, "{}", page.body);
    for header in [
        "content-security-policy: default-src 'none'; script-src 'self'",
        "x-frame-options: deny",
        "x-content-type-options: nosniff",
    ] {
        assert!(
            page.headers.contains(header),
            "missing {header}: {}",
            page.headers
        );
    }
    assert!(
        !page.body.contains("<script>"),
        "an inline script on the page"
    );

    // A monitor with the token may look but not act.
    let monitor = Console::start(cluster, MONITOR);
    assert_eq!(get(&monitor, "/api/topics", Some(TOKEN)).status, 200);
    let me: Value = serde_json::from_str(&get(&monitor, "/api/me", Some(TOKEN)).body).unwrap();
    assert_eq!(me["role"], "monitor", "{me}");
    let auth = format!("Bearer {TOKEN}");
    let r = http(
        monitor.addr,
        "POST",
        "/dead-letters/replay",
        &[("Authorization", &auth)],
        "mode=all&confirm=yes",
    )
    .unwrap();
    assert_eq!(r.status, 403, "{}", r.body);
}

/// Without a token mq-console listens on loopback only: asked to listen on every address it
/// refuses, with an error and a non-zero exit; with a database it cannot reach, /healthz is
/// 503.
fn no_token_means_loopback_only(cluster: &Cluster) {
    let out = Command::new(console_bin())
        .args(["--database-url", &database_url(cluster, ADMIN)])
        .args(["--listen", &format!("0.0.0.0:{}", free_port())])
        .env_remove("MQ_CONSOLE_TOKEN")
        .output()
        .expect("run mq-console");
    assert!(
        !out.status.success(),
        "mq-console listened on 0.0.0.0 without a token"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("without a token"), "{stderr}");

    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut child = Command::new(console_bin())
        .args([
            "--database-url",
            "host=/nonexistent-socket-dir port=1 user=nobody dbname=none",
        ])
        .args(["--listen", &addr.to_string()])
        .env_remove("MQ_CONSOLE_TOKEN")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut status = 0;
    let answered = wait_until(Duration::from_secs(20), || {
        match http(addr, "GET", "/healthz", &[], "") {
            Ok(r) => {
                status = r.status;
                true
            }
            Err(_) => false,
        }
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(answered, "mq-console without a database did not answer");
    assert_eq!(status, 503);
}

fn overview_lists_the_seeded_topics_and_updates_live(cluster: &Cluster) {
    ensure_roles(cluster);
    let mut client = cluster.connect();
    let topics = ["overview.orders", "overview.emails", "overview:audit"];
    for (i, topic) in topics.iter().enumerate() {
        publish(&mut client, topic, 5 + i as i32);
    }
    client
        .batch_execute("SELECT mq_complete(id) FROM mq_poll('overview.emails', 2)")
        .unwrap();
    sample(&mut client);
    sample(&mut client);
    let admin = Console::start(cluster, ADMIN);
    admin.browser(
        "overview_lists_topics_and_updates_live",
        &[
            ("MQ_TEST_TOPICS", topics.join(",")),
            ("MQ_TEST_PENDING", "5".to_owned()),
        ],
    );
}

fn message_page_shows_the_trace_timeline(cluster: &Cluster) {
    ensure_roles(cluster);
    let mut client = cluster.connect();
    let letters = dead_letter(&mut client, "trace.payments", 1);
    let (message_id, _) = letters[0];
    let admin = Console::start(cluster, ADMIN);
    admin.browser(
        "message_trace_timeline",
        &[
            ("MQ_TEST_MESSAGE_ID", message_id.to_string()),
            ("MQ_TEST_PAYLOAD_TEXT", "declined".to_owned()),
        ],
    );
}

fn replay_one_dead_letter_from_the_ui(cluster: &Cluster) {
    ensure_roles(cluster);
    let mut client = cluster.connect();
    let letters = dead_letter(&mut client, "replay.one", 3);
    let (_, target) = letters[1];
    let admin = Console::start(cluster, ADMIN);
    admin.browser(
        "replay_one_dead_letter",
        &[
            ("MQ_TEST_TOPIC", "replay.one".to_owned()),
            ("MQ_TEST_DEAD_LETTER_ID", target.to_string()),
        ],
    );
    assert!(
        replayed(&mut client, target),
        "dead letter {target} was not replayed"
    );
    for (_, other) in [letters[0], letters[2]] {
        assert!(
            !replayed(&mut client, other),
            "dead letter {other} was replayed too"
        );
    }
    let row = client
        .query_one(
            "SELECT m.status, m.topic FROM mq.dead_letters d JOIN mq.messages m ON m.id = d.replayed_message_id WHERE d.id = $1",
            &[&target],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "PENDING");
    assert_eq!(row.get::<_, String>(1), "replay.one");
}

fn replay_selected_dead_letters_from_the_ui(cluster: &Cluster) {
    ensure_roles(cluster);
    let mut client = cluster.connect();
    let letters = dead_letter(&mut client, "replay.selected", 4);
    let chosen = [letters[0].1, letters[2].1, letters[3].1];
    let admin = Console::start(cluster, ADMIN);
    admin.browser(
        "replay_selected_dead_letters",
        &[
            ("MQ_TEST_TOPIC", "replay.selected".to_owned()),
            (
                "MQ_TEST_DEAD_LETTER_IDS",
                chosen
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        ],
    );
    for id in chosen {
        assert!(
            replayed(&mut client, id),
            "dead letter {id} was not replayed"
        );
    }
    assert!(
        !replayed(&mut client, letters[1].1),
        "an unselected dead letter was replayed"
    );
}

/// More dead letters than one batch of mq_replay_batch (500), all replayed from one click,
/// and none of another topic.
fn replay_everything_matching_the_filter(cluster: &Cluster) {
    ensure_roles(cluster);
    let mut client = cluster.connect();
    let n = 1_203;
    dead_letter(&mut client, "replay.all", n);
    dead_letter(&mut client, "replay.other", 2);
    let admin = Console::start(cluster, ADMIN);
    admin.browser(
        "replay_all_matching",
        &[
            ("MQ_TEST_TOPIC", "replay.all".to_owned()),
            ("MQ_TEST_EXPECTED", n.to_string()),
        ],
    );
    let sql = "SELECT count(*) FROM mq.dead_letters WHERE topic = $1 AND replayed";
    assert_eq!(count(&mut client, sql, "replay.all"), i64::from(n));
    assert_eq!(count(&mut client, sql, "replay.other"), 0);
    assert_eq!(
        count(
            &mut client,
            "SELECT count(*) FROM mq.messages WHERE topic = $1 AND status = 'PENDING'",
            "replay.all"
        ),
        i64::from(n)
    );
}

fn monitor_sees_no_actions_and_gets_403(cluster: &Cluster) {
    ensure_roles(cluster);
    let mut client = cluster.connect();
    let letters = dead_letter(&mut client, "monitor.payments", 2);
    sample(&mut client);
    let monitor = Console::start(cluster, MONITOR);
    monitor.browser(
        "monitor_sees_no_actions",
        &[
            ("MQ_TEST_TOPIC", "monitor.payments".to_owned()),
            ("MQ_TEST_DEAD_LETTER_ID", letters[0].1.to_string()),
            ("MQ_TEST_MESSAGE_ID", letters[0].0.to_string()),
        ],
    );
    for (_, id) in letters {
        assert!(
            !replayed(&mut client, id),
            "the monitor replayed dead letter {id}"
        );
    }
}

fn a_post_without_the_csrf_token_is_refused(cluster: &Cluster) {
    ensure_roles(cluster);
    let mut client = cluster.connect();
    let letters = dead_letter(&mut client, "csrf.payments", 1);
    let admin = Console::start(cluster, ADMIN);
    admin.browser(
        "csrf_is_required",
        &[("MQ_TEST_DEAD_LETTER_ID", letters[0].1.to_string())],
    );
    assert!(
        !replayed(&mut client, letters[0].1),
        "a POST without the CSRF token replayed the dead letter"
    );
}

/// Pause and resume from the topic page; a monitor's pause is 403. Needs mq_pause,
/// mq_resume and mq_topics (for the paused state).
fn pause_and_resume_a_topic_from_the_ui(cluster: &Cluster) {
    ensure_roles(cluster);
    let mut client = cluster.connect();
    publish(&mut client, "pause.orders", 2);
    let paused = |client: &mut Client| -> bool {
        client
            .query_one(
                "SELECT paused FROM mq_topics() WHERE topic = 'pause.orders'",
                &[],
            )
            .unwrap()
            .get(0)
    };
    let admin = Console::start(cluster, ADMIN);
    let vars = [("MQ_TEST_TOPIC", "pause.orders".to_owned())];
    admin.browser("pause_topic", &vars);
    assert!(
        paused(&mut client),
        "the topic is not paused in the database"
    );
    let monitor = Console::start(cluster, MONITOR);
    monitor.browser("monitor_cannot_pause", &vars);
    admin.browser("resume_topic", &vars);
    assert!(
        !paused(&mut client),
        "the topic is still paused in the database"
    );
}

/// The consumers and health pages, and their JSON, read through mq_consumers and mq_health by
/// a monitor role.
fn consumers_and_health_pages_for_a_monitor(cluster: &Cluster) {
    ensure_roles(cluster);
    let mut client = cluster.connect();
    publish(&mut client, "api.cons", 2);
    client
        .batch_execute(
            "SELECT count(mq_complete(id, lease)) FROM mq_poll('api.cons', 2, consumer_id => 'cons-1')",
        )
        .unwrap();
    let monitor = Console::start(cluster, MONITOR);
    let r = get(&monitor, "/api/consumers?topic=api.cons", Some(TOKEN));
    assert_eq!(r.status, 200, "{}", r.body);
    let body: Value = serde_json::from_str(&r.body).expect("/api/consumers is JSON");
    let text = body.to_string();
    assert!(text.contains("\"cons-1\""), "cons-1 missing from {text}");
    assert!(text.contains("\"completed\":2"), "{text}");
    let r = get(&monitor, "/api/health", Some(TOKEN));
    assert_eq!(r.status, 200, "{}", r.body);
    let health: Value = serde_json::from_str(&r.body).expect("/api/health is JSON");
    assert!(
        ["ok", "warn", "critical"].contains(&health["overall"].as_str().unwrap_or("")),
        "{health}"
    );
    let checks = health["checks"].to_string();
    for check in ["worker", "snapshot_age", "dead_tuples", "consumer_lag"] {
        assert!(checks.contains(check), "{check} missing from {checks}");
    }
    let page = get(&monitor, "/consumers", Some(TOKEN));
    assert_eq!(page.status, 200);
    assert!(page.body.contains("cons-1"));
    let page = get(&monitor, "/health", Some(TOKEN));
    assert_eq!(page.status, 200);
    assert!(page.body.contains("snapshot_age"));
}
