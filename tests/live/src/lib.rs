//! Harness for pg_mq's multi-session tests: a throw-away PostgreSQL 15 cluster with pg_mq
//! preloaded, clients connected to it, and a small test runner.
//!
//! PostgreSQL refuses to run as root; when the tests run as root (as in CI) the cluster is
//! created and run by the unprivileged `postgres` user through `runuser`. The extension must be
//! installed into the PostgreSQL installation first (`scripts/test.sh` does that).

use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub use postgres::{Client, NoTls};

/// Where Debian's PostgreSQL 15 lives; override with `PG_MQ_PG_BIN`.
fn pg_bin() -> PathBuf {
    std::env::var_os("PG_MQ_PG_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"))
}

fn running_as_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("run id -u");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// The database role the harness connects as (the cluster's bootstrap superuser).
pub const SUPERUSER: &str = "postgres";

/// A PostgreSQL cluster of its own, in a fresh directory, reachable only over a Unix socket in
/// that directory. Stopped and removed on drop.
pub struct Cluster {
    dir: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl Cluster {
    /// Creates and starts a cluster with pg_mq preloaded, `extra_conf` appended to its
    /// postgresql.conf, and the extension created in database `postgres`.
    pub fn start(name: &str, extra_conf: &[&str]) -> Cluster {
        Cluster::start_with(name, extra_conf, true)
    }

    /// Like `start`; with `preload` false pg_mq is not in shared_preload_libraries (no
    /// background worker, no shared memory) and is loaded by each session on first use.
    pub fn start_with(name: &str, extra_conf: &[&str], preload: bool) -> Cluster {
        Cluster::start_on(name, extra_conf, preload, None)
    }

    /// Like `start_with`; with `tcp_port` the server also listens on 127.0.0.1 at that port
    /// (for clients that connect over TCP: PgBouncer, the Python and Node examples).
    pub fn start_on(
        name: &str,
        extra_conf: &[&str],
        preload: bool,
        tcp_port: Option<u16>,
    ) -> Cluster {
        check_extension_installed();
        let dir = std::env::temp_dir().join(format!("pg_mq-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create cluster directory");
        let as_postgres = running_as_root();
        if as_postgres {
            run_ok(Command::new("chown").arg("postgres:postgres").arg(&dir));
        }
        let cluster = Cluster {
            dir,
            port: tcp_port.unwrap_or(5432),
            as_postgres,
        };
        cluster.run_pg_tool(
            "initdb",
            &[
                "--auth=trust",
                "--username",
                SUPERUSER,
                "--encoding=UTF8",
                "--no-sync",
                "-D",
                cluster.data_dir().to_str().unwrap(),
            ],
        );
        let listen = if tcp_port.is_some() { "127.0.0.1" } else { "" };
        let mut conf = vec![
            format!("listen_addresses = '{listen}'"),
            format!("unix_socket_directories = '{}'", cluster.dir.display()),
            format!("port = {}", cluster.port),
            format!(
                "shared_preload_libraries = '{}'",
                if preload { "pg_mq" } else { "" }
            ),
            "max_connections = 60".to_owned(),
            "fsync = off".to_owned(),
            "log_min_messages = warning".to_owned(),
        ];
        conf.extend(extra_conf.iter().map(|s| (*s).to_owned()));
        let conf_path = cluster.data_dir().join("postgresql.conf");
        let mut text = fs::read_to_string(&conf_path).expect("read postgresql.conf");
        text.push_str("\n# pg_mq live tests\n");
        text.push_str(&conf.join("\n"));
        text.push('\n');
        cluster.write_as_owner(&conf_path, &text);
        cluster.pg_ctl_start();
        let mut client = cluster.connect();
        client
            .batch_execute("CREATE EXTENSION pg_mq")
            .expect("CREATE EXTENSION pg_mq");
        // The worker looks for the extension once per recovery interval; start the tests once
        // it has found it, so that they see a working worker.
        assert!(
            !preload
                || wait_until(Duration::from_secs(30), || {
                    worker_activity(&mut client).is_some_and(|a| a.contains("recovery every"))
                }),
            "the pg_mq worker did not start working:\n{}",
            cluster.log()
        );
        cluster
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The directory holding the server's Unix socket (a libpq `host`).
    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A new session as the superuser.
    pub fn connect(&self) -> Client {
        self.connector().connect()
    }

    /// A new session as `role`.
    pub fn connect_as(&self, role: &str) -> Client {
        self.connector().connect_as(role)
    }

    /// Connection settings for `role`, for callers that need to adjust them.
    pub fn config(&self, role: &str) -> postgres::Config {
        self.connector().config(role)
    }

    /// A handle that opens sessions to this cluster, for threads (it does not own the
    /// cluster).
    pub fn connector(&self) -> Connector {
        Connector {
            dir: self.dir.clone(),
            port: self.port,
        }
    }

    fn pg_ctl_start(&self) {
        let log = self.dir.join("postgres.log");
        self.run_pg_tool(
            "pg_ctl",
            &[
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                self.data_dir().to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
            ],
        );
    }

    /// Stops the server with `mode` (`fast`, `immediate`, ...).
    pub fn stop(&self, mode: &str) {
        self.run_pg_tool(
            "pg_ctl",
            &[
                "stop",
                "-w",
                "-m",
                mode,
                "-D",
                self.data_dir().to_str().unwrap(),
            ],
        );
    }

    /// Starts a stopped server again.
    pub fn start_again(&self) {
        self.pg_ctl_start();
    }

    /// The server log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default()
    }

    fn command(&self, program: &Path) -> Command {
        if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(program);
            cmd
        } else {
            Command::new(program)
        }
    }

    fn run_pg_tool(&self, tool: &str, args: &[&str]) {
        let out = self
            .command(&pg_bin().join(tool))
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("run {tool}: {e}"));
        if !out.status.success() {
            panic!(
                "{tool} {args:?} failed: {}\n{}\n{}\nserver log:\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                self.log()
            );
        }
    }

    fn write_as_owner(&self, path: &Path, text: &str) {
        fs::write(path, text).expect("write config");
        if self.as_postgres {
            run_ok(Command::new("chown").arg("postgres:postgres").arg(path));
        }
    }
}

/// Opens sessions to a [`Cluster`]; cheap to clone and send to threads.
#[derive(Debug, Clone)]
pub struct Connector {
    dir: PathBuf,
    port: u16,
}

impl Connector {
    /// A new session as the superuser.
    pub fn connect(&self) -> Client {
        self.connect_as(SUPERUSER)
    }

    /// A new session as `role`.
    pub fn connect_as(&self, role: &str) -> Client {
        self.config(role)
            .connect(NoTls)
            .unwrap_or_else(|e| panic!("connect to {} as {role}: {e}", self.dir.display()))
    }

    /// Connection settings for `role`.
    pub fn config(&self, role: &str) -> postgres::Config {
        let mut config = postgres::Config::new();
        config
            .host_path(&self.dir)
            .port(self.port)
            .user(role)
            .dbname("postgres")
            .connect_timeout(Duration::from_secs(10));
        config
    }

    /// A new superuser session named `application_name`, retrying for up to a minute while
    /// the server is (re)starting.
    pub fn connect_retrying(&self, application_name: &str) -> Client {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let mut config = self.config(SUPERUSER);
            config.application_name(application_name);
            match config.connect(NoTls) {
                Ok(client) => return client,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(e) => panic!("could not connect to {}: {e}", self.dir.display()),
            }
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .command(&pg_bin().join("pg_ctl"))
            .args(["stop", "-w", "-m", "immediate", "-D"])
            .arg(self.data_dir())
            .output();
        if std::env::var_os("PG_MQ_KEEP_CLUSTER").is_none() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn check_extension_installed() {
    let out = run_ok(Command::new(pg_bin().join("pg_config")).arg("--sharedir"));
    let sharedir = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let control = Path::new(&sharedir).join("extension/pg_mq.control");
    assert!(
        control.exists(),
        "{} is missing: install the extension first (scripts/test.sh does)",
        control.display()
    );
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A named test of a suite.
pub type Test = (&'static str, fn(&Cluster));

/// Runs `tests` against one cluster started with `extra_conf`, like a tiny libtest: arguments
/// on the command line filter by substring. Exits non-zero if any test failed.
pub fn run_suite(suite: &str, extra_conf: &[&str], tests: &[Test]) {
    run_suite_on(suite, extra_conf, None, tests)
}

/// Like `run_suite`, with the cluster also listening on 127.0.0.1 at `tcp_port`.
pub fn run_suite_on(suite: &str, extra_conf: &[&str], tcp_port: Option<u16>, tests: &[Test]) {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let selected: Vec<&Test> = tests
        .iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
        .collect();
    println!("\nrunning {} tests ({suite})", selected.len());
    if selected.is_empty() {
        return;
    }
    let cluster = Cluster::start_on(suite, extra_conf, true, tcp_port);
    let mut failed = Vec::new();
    for (name, test) in selected {
        let started = Instant::now();
        let result = panic::catch_unwind(AssertUnwindSafe(|| test(&cluster)));
        let took = started.elapsed().as_secs_f64();
        match result {
            Ok(()) => println!("test {suite}::{name} ... ok ({took:.1}s)"),
            Err(_) => {
                println!("test {suite}::{name} ... FAILED ({took:.1}s)");
                failed.push(*name);
            }
        }
    }
    if failed.is_empty() {
        println!("\ntest result: ok. {suite}");
        return;
    }
    println!("\nfailures in {suite}: {failed:?}\nserver log tail:");
    let log = cluster.log();
    let tail: Vec<&str> = log.lines().rev().take(40).collect();
    for line in tail.into_iter().rev() {
        println!("  {line}");
    }
    drop(cluster);
    std::process::exit(1);
}

/// The pid of the background worker of the client's database, if one is running.
pub fn worker_pid(client: &mut Client) -> Option<i32> {
    client
        .query_opt(
            "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_mq worker' \
             AND datname = current_database()",
            &[],
        )
        .expect("query pg_stat_activity")
        .map(|row| row.get(0))
}

/// What the background worker of the client's database last reported in pg_stat_activity.
pub fn worker_activity(client: &mut Client) -> Option<String> {
    client
        .query_opt(
            "SELECT query FROM pg_stat_activity WHERE backend_type = 'pg_mq worker' \
             AND datname = current_database()",
            &[],
        )
        .expect("query pg_stat_activity")
        .map(|row| row.get(0))
}

/// The SQLSTATE of a failed statement ("" when the error did not come from the server, e.g.
/// a lost connection).
pub fn sqlstate(error: &postgres::Error) -> &str {
    error.code().map_or("", |code| code.code())
}

/// A small, seedable pseudo-random generator (SplitMix64) for fault schedules: the seed is
/// printed so that a failing run can be repeated.
pub struct Rng(u64);

impl Rng {
    /// Seeded from `PG_MQ_TEST_SEED` if set, else from the clock; prints the seed.
    pub fn from_env(what: &str) -> Rng {
        let seed = std::env::var("PG_MQ_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
        println!("  {what}: seed {seed} (PG_MQ_TEST_SEED={seed} repeats it)");
        Rng(seed)
    }

    pub fn seeded(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `low..high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next_u64() % (high - low).max(1)
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
}

/// The version of pg_mq this checkout builds (from the root Cargo.toml).
pub fn pg_mq_version() -> &'static str {
    include_str!("../../../Cargo.toml")
        .lines()
        .find_map(|line| line.strip_prefix("version = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .expect("version in the root Cargo.toml")
}

/// The server's message for a failed statement (the error's own Display says only "db error").
pub fn error_message(error: &postgres::Error) -> String {
    error
        .as_db_error()
        .map_or_else(|| error.to_string(), |db| db.message().to_owned())
}
