//! A generated sweep of inputs, good and bad, through every pg_mq function (proptest, a few
//! thousand cases): each call either succeeds and does what it should, or fails with its
//! documented SQLSTATE and leaves no row behind.
//!
//! Each case has at most one faulty argument, so that the expected SQLSTATE is that
//! argument's: pg_mq's own (22004 NULL, 22023 invalid, 54000 too large, P0002 / 55000 for
//! replay), or PostgreSQL's when the value cannot even be built (invalid UTF-8 22021, invalid
//! JSON 22P02, \u0000 in JSON 22P05, numbers out of range 22003, nesting too deep 54001).
//! `PG_MQ_TEST_SEED` repeats a run; `PG_MQ_SWEEP_CASES` scales it.

use std::cell::RefCell;

use pg_mq_live_tests::{run_suite, sqlstate, Client, Cluster, Rng};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRng, TestRunner};
use serde_json::Value;

fn main() {
    run_suite(
        "bad_input",
        // No lock expires while the sweep runs (polls without a lock_timeout take this one),
        // so the worker never recovers a message under a case's feet.
        &["pg_mq.lock_timeout = '1d'"],
        &[
            ("publish", publish_sweep),
            ("publish_batch", publish_batch_sweep),
            ("poll", poll_sweep),
            ("complete_and_fail", settle_sweep),
            ("replay", replay_sweep),
            ("operations", operations_sweep),
            ("topics", topics_sweep),
            ("subscriptions", subscriptions_sweep),
            ("keys", keys_sweep),
        ],
    );
}

/// Topics the sweeps publish to and poll, so that polls find messages.
const POOL: [&str; 3] = ["bi-a", "bi-b", "bi.c:d_e-f"];

fn cases(base: u32) -> u32 {
    let scale: f64 = std::env::var("PG_MQ_SWEEP_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    ((f64::from(base) * scale) as u32).max(1)
}

/// Runs `cases` cases of `strategy` through `test`, against one session.
fn sweep<S: Strategy>(
    cluster: &Cluster,
    what: &str,
    cases: u32,
    strategy: S,
    test: impl Fn(&mut Client, S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let client = RefCell::new(cluster.connect());
    let mut seed = [0u8; 32];
    let mut rng = Rng::from_env(what);
    for chunk in seed.chunks_mut(8) {
        chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 200,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(
        config,
        TestRng::from_seed(proptest::test_runner::RngAlgorithm::ChaCha, &seed),
    );
    if let Err(e) = runner.run(&strategy, |case| test(&mut client.borrow_mut(), case)) {
        panic!("{what}: {e}");
    }
    println!("  {what}: {cases} cases");
}

/// A SQL string literal (standard_conforming_strings is on).
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What must not change when a call fails: rows in the three tables and the counters.
fn footprint(client: &mut Client) -> Vec<i64> {
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM mq.messages), (SELECT count(*) FROM mq.dead_letters), \
                    (SELECT count(*) FROM mq.traces), \
                    (SELECT count(*) FROM mq.dead_letters WHERE replayed), \
                    (SELECT count(*) FROM mq.messages WHERE status = 'PROCESSING'), \
                    (SELECT coalesce(sum(consumed_total + failed_total + dead_letter_total), 0)::bigint \
                       FROM mq.current_metrics(clock_timestamp()))",
            &[],
        )
        .unwrap();
    (0..6).map(|i| row.get(i)).collect()
}

/// Runs `sql`; it must fail with `expected` (and change nothing) or, when `expected` is None,
/// succeed: then its rows are returned.
fn call(
    client: &mut Client,
    sql: &str,
    expected: Option<&str>,
) -> Result<Option<Vec<postgres::Row>>, TestCaseError> {
    let before = footprint(client);
    match (client.query(sql, &[]), expected) {
        (Ok(rows), None) => Ok(Some(rows)),
        (Err(e), Some(state)) if sqlstate(&e) == state => {
            let after = footprint(client);
            prop_assert_eq!(after, before, "{} failed but left rows behind", sql);
            Ok(None)
        }
        (Ok(_), Some(state)) => Err(TestCaseError::fail(format!(
            "{}: expected SQLSTATE {state}, it succeeded",
            shorten(sql)
        ))),
        (Err(e), expected) => Err(TestCaseError::fail(format!(
            "{}: expected {}, got {} {e}",
            shorten(sql),
            expected.unwrap_or("success"),
            sqlstate(&e)
        ))),
    }
}

fn shorten(sql: &str) -> String {
    if sql.len() > 400 {
        format!(
            "{}…({} bytes)",
            &sql[..sql.floor_char_boundary(400)],
            sql.len()
        )
    } else {
        sql.to_owned()
    }
}

// ---------------------------------------------------------------------------------------------
// Argument generators. Each knows its SQL and the SQLSTATE it must cause, if any: `input` for
// errors PostgreSQL raises while building the value, `checked` for pg_mq's own.

trait Arg {
    fn sql(&self) -> String;
    fn error(&self) -> Option<&'static str>;
}

#[derive(Debug, Clone)]
enum Topic {
    Valid(String),
    Null,
    Empty,
    TooLong(String),
    BadChar(String),
    InvalidUtf8(Vec<u8>),
    Latin1(Vec<u8>),
}

impl Arg for Topic {
    fn sql(&self) -> String {
        match self {
            Topic::Valid(s) | Topic::TooLong(s) | Topic::BadChar(s) => lit(s),
            Topic::Null => "NULL::text".into(),
            Topic::Empty => "''".into(),
            Topic::InvalidUtf8(b) => format!("convert_from('\\x{}'::bytea, 'UTF8')", hex(b)),
            Topic::Latin1(b) => format!("convert_from('\\x{}'::bytea, 'LATIN1')", hex(b)),
        }
    }
    fn error(&self) -> Option<&'static str> {
        match self {
            Topic::Valid(_) => None,
            Topic::Null => Some("22004"),
            Topic::Empty | Topic::TooLong(_) | Topic::BadChar(_) | Topic::Latin1(_) => {
                Some("22023")
            }
            Topic::InvalidUtf8(_) => Some("22021"),
        }
    }
}

fn valid_topic() -> impl Strategy<Value = Topic> {
    prop_oneof![
        3 => prop::sample::select(POOL.to_vec()).prop_map(|t| Topic::Valid(t.to_owned())),
        2 => "[A-Za-z0-9._:-]{1,40}".prop_map(Topic::Valid),
        1 => "[a-z]{255}".prop_map(Topic::Valid),
    ]
}

fn bad_topic() -> impl Strategy<Value = Topic> {
    let odd = prop::sample::select(vec![
        " ", "'", "\"", ";", "\\", "é", "💥", "\t", "\n", "/", "*", "%", "$$", "--;",
    ]);
    prop_oneof![
        Just(Topic::Null),
        Just(Topic::Empty),
        "[a-z]{256,300}".prop_map(Topic::TooLong),
        ("[a-z]{0,10}", odd, "[a-z]{0,10}")
            .prop_map(|(a, c, b)| Topic::BadChar(format!("{a}{c}{b}"))),
        prop::sample::select(vec![
            vec![0xff],
            vec![0xc3, 0x28],
            vec![0xe2, 0x82],
            vec![0x61, 0x80]
        ])
        .prop_map(Topic::InvalidUtf8),
        prop::collection::vec(0xa0u8..=0xff, 1..5).prop_map(Topic::Latin1),
    ]
}

/// Mostly valid; one time in `one_in` a bad value.
fn maybe_bad<T: Clone + std::fmt::Debug + 'static>(
    good: impl Strategy<Value = T> + 'static,
    bad: impl Strategy<Value = T> + 'static,
    one_in: u32,
) -> BoxedStrategy<T> {
    prop_oneof![one_in - 1 => good, 1 => bad].boxed()
}

const PAYLOAD_LIMIT: usize = 1024 * 1024;
/// Size of the jsonb value {"s": ""}: a string of n characters makes it 17 + n bytes.
const SIZED_OVERHEAD: usize = 17;

#[derive(Debug, Clone)]
enum Payload {
    Json(String),
    Null,
    /// Nested arrays this deep (PostgreSQL's parser gives up between 10,000 and 50,000).
    Deep(usize),
    /// {"s": "xxx..."} of exactly this many bytes as jsonb.
    Sized(usize),
    InvalidJson(String),
    /// The number 1e<exponent>.
    Number(i64),
    NulEscape,
}

impl Arg for Payload {
    fn sql(&self) -> String {
        match self {
            Payload::Json(text) | Payload::InvalidJson(text) => format!("{}::jsonb", lit(text)),
            Payload::Null => "NULL::jsonb".into(),
            Payload::Deep(d) => format!("(repeat('[', {d}) || repeat(']', {d}))::jsonb"),
            Payload::Sized(n) => format!(
                "jsonb_build_object('s', repeat('x', {}))",
                n - SIZED_OVERHEAD
            ),
            Payload::Number(e) => format!("'1e{e}'::jsonb"),
            Payload::NulEscape => "'\"a\\u0000b\"'::jsonb".into(),
        }
    }
    fn error(&self) -> Option<&'static str> {
        match self {
            Payload::Json(_) => None,
            Payload::Null => Some("22004"),
            Payload::Deep(d) if *d >= 50_000 => Some("54001"),
            Payload::Deep(_) => None,
            Payload::Sized(n) if *n > PAYLOAD_LIMIT => Some("54000"),
            Payload::Sized(_) => None,
            Payload::InvalidJson(_) => Some("22P02"),
            Payload::Number(e) if !(-16_000..=131_071).contains(e) => Some("22003"),
            Payload::Number(_) => None,
            Payload::NulEscape => Some("22P05"),
        }
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e300f64..1e300f64).prop_map(Value::from),
        "\\PC{0,24}".prop_map(Value::String),
        "[\\u{1}-\\u{1f}\"\\\\]{1,4}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map("\\PC{0,8}", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn good_payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        12 => json_value().prop_map(|v| Payload::Json(v.to_string())),
        1 => (1usize..10_000).prop_map(Payload::Deep),
        1 => prop_oneof![Just(PAYLOAD_LIMIT), (SIZED_OVERHEAD..PAYLOAD_LIMIT)].prop_map(Payload::Sized),
        1 => (-16_000i64..=131_071).prop_map(Payload::Number),
    ]
}

fn bad_payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        Just(Payload::Null),
        (50_000usize..200_000).prop_map(Payload::Deep),
        (PAYLOAD_LIMIT + 1..PAYLOAD_LIMIT + 2_000).prop_map(Payload::Sized),
        prop::sample::select(vec![
            "{\"a\":",
            "[1,2",
            "nul",
            "{'a': 1}",
            "",
            "{\"a\" 1}",
            "01"
        ])
        .prop_map(|s| Payload::InvalidJson(s.to_owned())),
        prop_oneof![(131_072i64..1_000_000), (-1_000_000i64..-20_000)].prop_map(Payload::Number),
        Just(Payload::NulEscape),
    ]
}

#[derive(Debug, Clone)]
enum Int {
    Value(i32),
    Null,
    OutOfRange(i64),
    /// Wrong for pg_mq (its own rule: below `min`, say).
    Refused(i32),
}

impl Arg for Int {
    fn sql(&self) -> String {
        match self {
            Int::Value(n) | Int::Refused(n) => format!("({n})::int"),
            Int::Null => "NULL::int".into(),
            Int::OutOfRange(n) => format!("'{n}'::int"),
        }
    }
    fn error(&self) -> Option<&'static str> {
        match self {
            Int::Value(_) => None,
            Int::Null => Some("22004"),
            Int::OutOfRange(_) => Some("22003"),
            Int::Refused(_) => Some("22023"),
        }
    }
}

fn out_of_int_range() -> impl Strategy<Value = Int> {
    prop_oneof![
        (i64::from(i32::MAX) + 1..i64::MAX),
        (i64::MIN..i64::from(i32::MIN))
    ]
    .prop_map(Int::OutOfRange)
}

#[derive(Debug, Clone)]
enum Interval {
    /// months, days, seconds
    Parts(i32, i32, i64),
    Null,
}

impl Interval {
    fn micros_approx(&self) -> Option<i128> {
        match self {
            Interval::Parts(m, d, s) => Some(
                (i128::from(*m) * 30 + i128::from(*d)) * 86_400_000_000
                    + i128::from(*s) * 1_000_000,
            ),
            Interval::Null => None,
        }
    }
    fn sql(&self) -> String {
        match self {
            Interval::Parts(m, d, s) => format!("'{m} months {d} days {s} seconds'::interval"),
            Interval::Null => "NULL::interval".into(),
        }
    }
}

/// Intervals far from the edge of the timestamp range either way: up to 10,000 years, or
/// more than 300,000.
fn interval(negative: bool) -> impl Strategy<Value = Interval> {
    let sign = if negative { -1 } else { 1 };
    prop_oneof![
        6 => (0i32..1_200, 0i32..400, 1i64..100_000)
            .prop_map(move |(m, d, s)| Interval::Parts(sign * m, sign * d, i64::from(sign) * s)),
        1 => (0i32..120_000).prop_map(move |m| Interval::Parts(sign * m, 0, i64::from(sign))),
    ]
}

fn huge_interval() -> impl Strategy<Value = Interval> {
    prop_oneof![
        (4_000_000i32..i32::MAX).prop_map(|m| Interval::Parts(m, 0, 0)),
        (110_000_000i32..i32::MAX).prop_map(|d| Interval::Parts(0, d, 0)),
    ]
}

#[derive(Debug, Clone)]
enum Schedule {
    Now,
    At(i32),
    Infinite(bool),
    Delay(Interval),
    Both(i32, Interval),
}

impl Schedule {
    fn execute_at(&self) -> String {
        match self {
            Schedule::At(year) | Schedule::Both(year, _) => {
                format!("'{year:04}-06-15 12:00:00+00'::timestamptz")
            }
            Schedule::Infinite(true) => "'infinity'::timestamptz".into(),
            Schedule::Infinite(false) => "'-infinity'::timestamptz".into(),
            _ => "NULL::timestamptz".into(),
        }
    }
    fn delay(&self) -> String {
        match self {
            Schedule::Delay(i) | Schedule::Both(_, i) => i.sql(),
            _ => "NULL::interval".into(),
        }
    }
    fn error(&self) -> Option<&'static str> {
        match self {
            Schedule::Now | Schedule::At(_) => None,
            Schedule::Infinite(_) | Schedule::Both(..) => Some("22023"),
            Schedule::Delay(i) => match i.micros_approx() {
                Some(m) if m < 0 => Some("22023"),
                Some(m) if m > 300_000 * 365 * 86_400_000_000 => Some("22023"),
                _ => None,
            },
        }
    }
}

fn schedule() -> BoxedStrategy<Schedule> {
    prop_oneof![
        8 => Just(Schedule::Now),
        3 => (1i32..9_999).prop_map(Schedule::At),
        3 => interval(false).prop_map(Schedule::Delay),
        1 => any::<bool>().prop_map(Schedule::Infinite),
        1 => interval(true).prop_filter("negative", |i| i.micros_approx() < Some(0)).prop_map(Schedule::Delay),
        1 => huge_interval().prop_map(Schedule::Delay),
        1 => ((1i32..9_999), interval(false)).prop_map(|(y, i)| Schedule::Both(y, i)),
    ]
    .boxed()
}

#[derive(Debug, Clone)]
enum Headers {
    Null,
    Object(String),
    /// {"s": "xxx..."} of exactly this many bytes as jsonb (held to the payload's limit).
    Sized(usize),
    NotObject(String),
    Invalid,
}

impl Arg for Headers {
    fn sql(&self) -> String {
        match self {
            Headers::Null => "NULL::jsonb".into(),
            Headers::Object(t) | Headers::NotObject(t) => format!("{}::jsonb", lit(t)),
            Headers::Invalid => "'{\"a\":'::jsonb".into(),
            Headers::Sized(n) => Payload::Sized(*n).sql(),
        }
    }
    fn error(&self) -> Option<&'static str> {
        match self {
            Headers::Null | Headers::Object(_) => None,
            Headers::Sized(n) if *n > PAYLOAD_LIMIT => Some("54000"),
            Headers::Sized(_) => None,
            Headers::NotObject(_) => Some("22023"),
            Headers::Invalid => Some("22P02"),
        }
    }
}

fn headers() -> BoxedStrategy<Headers> {
    prop_oneof![
        6 => Just(Headers::Null),
        4 => prop::collection::btree_map("\\PC{0,8}", json_value(), 0..4)
            .prop_map(|m| Headers::Object(Value::Object(m.into_iter().collect()).to_string())),
        1 => prop::sample::select(vec!["[]", "[1]", "1", "\"a\"", "null", "true"])
            .prop_map(|s| Headers::NotObject(s.to_owned())),
        1 => Just(Headers::Invalid),
        1 => prop_oneof![Just(PAYLOAD_LIMIT), Just(PAYLOAD_LIMIT + 1)].prop_map(Headers::Sized),
    ]
    .boxed()
}

/// The first error among the arguments, in the order given; at most one is faulty.
fn first_error(errors: &[Option<&'static str>]) -> Option<&'static str> {
    errors.iter().flatten().next().copied()
}

fn at_most_one_fault(errors: &[Option<&'static str>]) -> bool {
    errors.iter().filter(|e| e.is_some()).count() <= 1
}

// ---------------------------------------------------------------------------------------------
// mq_publish

#[derive(Debug, Clone)]
struct Publish {
    topic: Topic,
    payload: Payload,
    priority: Int,
    schedule: Schedule,
    /// None: NULL, which takes pg_mq.default_max_retries.
    max_retries: Option<Int>,
    headers: Headers,
    trace_id: Option<u128>,
    expiry: Expiry,
}

/// mq_publish's expires_at.
#[derive(Debug, Clone)]
enum Expiry {
    Never,
    /// This many seconds from now.
    In(i64),
    /// This many seconds ago.
    Ago(i64),
    Infinite,
}

impl Arg for Expiry {
    fn sql(&self) -> String {
        match self {
            Expiry::Never => "NULL::timestamptz".into(),
            Expiry::In(s) => format!("clock_timestamp() + interval '{s} seconds'"),
            Expiry::Ago(s) => format!("clock_timestamp() - interval '{s} seconds'"),
            Expiry::Infinite => "'infinity'::timestamptz".into(),
        }
    }
    fn error(&self) -> Option<&'static str> {
        match self {
            Expiry::Never | Expiry::In(_) => None,
            Expiry::Ago(_) | Expiry::Infinite => Some("22023"),
        }
    }
}

fn expiry() -> BoxedStrategy<Expiry> {
    prop_oneof![
        8 => Just(Expiry::Never),
        3 => (60i64..100_000_000).prop_map(Expiry::In),
        1 => (0i64..100_000_000).prop_map(Expiry::Ago),
        1 => Just(Expiry::Infinite),
    ]
    .boxed()
}

impl Publish {
    fn errors(&self) -> Vec<Option<&'static str>> {
        vec![
            self.topic.error(),
            self.payload.error(),
            self.priority.error(),
            self.max_retries.as_ref().and_then(Int::error),
            self.headers.error(),
            self.schedule.error(),
            self.expiry.error(),
        ]
    }
    fn trace_sql(&self) -> String {
        self.trace_id.map_or("NULL::uuid".into(), |t| {
            format!("'{}'::uuid", uuid::Uuid::from_u128(t))
        })
    }
}

fn publish_case() -> impl Strategy<Value = Publish> {
    (
        maybe_bad(valid_topic(), bad_topic(), 8),
        maybe_bad(good_payload(), bad_payload(), 6),
        maybe_bad(
            prop_oneof![Just(Int::Value(0)), any::<i32>().prop_map(Int::Value)],
            prop_oneof![Just(Int::Null), out_of_int_range()],
            10,
        ),
        schedule(),
        maybe_bad(
            prop_oneof![
                Just(None),
                (0..100).prop_map(|n| Some(Int::Value(n))),
                Just(Some(Int::Value(i32::MAX)))
            ],
            prop_oneof![(i32::MIN..0).prop_map(Int::Refused), out_of_int_range()].prop_map(Some),
            10,
        ),
        headers(),
        proptest::option::of(any::<u128>()),
        expiry(),
    )
        .prop_map(
            |(topic, payload, priority, schedule, max_retries, headers, trace_id, expiry)| {
                Publish {
                    topic,
                    payload,
                    priority,
                    schedule,
                    max_retries,
                    headers,
                    trace_id,
                    expiry,
                }
            },
        )
        .prop_filter("at most one faulty argument", |p| {
            at_most_one_fault(&p.errors())
        })
}

fn publish_sweep(cluster: &Cluster) {
    sweep(
        cluster,
        "mq_publish",
        cases(1_500),
        publish_case(),
        |client, case| {
            let max_retries = case
                .max_retries
                .as_ref()
                .map_or("NULL::int".to_owned(), Int::sql);
            let sql = format!(
                "SELECT mq_publish({}, {}, {}, {}, {}, {}, {}, {}, {})",
                case.topic.sql(),
                case.payload.sql(),
                case.priority.sql(),
                case.schedule.execute_at(),
                max_retries,
                case.trace_sql(),
                case.headers.sql(),
                case.schedule.delay(),
                case.expiry.sql(),
            );
            let expected = first_error(&case.errors());
            let Some(rows) = call(client, &sql, expected)? else {
                return Ok(());
            };
            let id: i64 = rows[0].get(0);
            let check = format!(
                "SELECT m.topic = {} AND m.payload = {} AND m.priority = {} \
                    AND m.max_retries = coalesce({}, 3) AND m.headers IS NOT DISTINCT FROM {} \
                    AND m.trace_id = coalesce({}, m.trace_id) \
                    AND (m.expires_at IS NULL) = {} \
                    AND m.status = CASE WHEN m.execute_at > m.created_at THEN 'SCHEDULED' \
                                        ELSE 'PENDING' END \
                    AND (SELECT count(*) FROM mq.traces t WHERE t.message_id = m.id) = 1 \
             FROM mq.messages m WHERE m.id = {id}",
                case.topic.sql(),
                case.payload.sql(),
                case.priority.sql(),
                max_retries,
                case.headers.sql(),
                case.trace_sql(),
                matches!(case.expiry, Expiry::Never),
            );
            let stored: bool = client.query_one(check.as_str(), &[]).unwrap().get(0);
            prop_assert!(
                stored,
                "message {} was not stored as given: {}",
                id,
                shorten(&check)
            );
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------------------------
// mq_publish_batch

#[derive(Debug, Clone)]
struct Batch {
    topic: Topic,
    payloads: Option<Vec<Option<Payload>>>,
}

impl Batch {
    /// pg_mq checks the topic, then the array, then its elements in order.
    fn error(&self) -> Option<&'static str> {
        self.topic.error().or_else(|| match &self.payloads {
            None => Some("22004"),
            Some(elements) => elements.iter().find_map(|e| match e {
                None => Some("22004"),
                Some(p) => p.error(),
            }),
        })
    }
}

fn batch_case() -> impl Strategy<Value = Batch> {
    let element = prop_oneof![
        20 => json_value().prop_map(|v| Some(Payload::Json(v.to_string()))),
        1 => Just(None),
        1 => (PAYLOAD_LIMIT + 1..PAYLOAD_LIMIT + 100).prop_map(|n| Some(Payload::Sized(n))),
    ];
    (
        maybe_bad(valid_topic(), bad_topic(), 8),
        maybe_bad(
            prop::collection::vec(element, 0..30).prop_map(Some),
            Just(None),
            15,
        ),
    )
        .prop_map(|(topic, payloads)| Batch { topic, payloads })
}

fn publish_batch_sweep(cluster: &Cluster) {
    sweep(
        cluster,
        "mq_publish_batch",
        cases(400),
        batch_case(),
        |client, case| {
            let array = match &case.payloads {
                None => "NULL::jsonb[]".to_owned(),
                Some(elements) => format!(
                    "ARRAY[{}]::jsonb[]",
                    elements
                        .iter()
                        .map(|e| e.as_ref().map_or("NULL::jsonb".to_owned(), Payload::sql))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            let sql = format!(
                "SELECT * FROM mq_publish_batch({}, {array})",
                case.topic.sql()
            );
            let Some(rows) = call(client, &sql, case.error())? else {
                return Ok(());
            };
            let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
            let expected = case.payloads.as_ref().map_or(0, Vec::len);
            prop_assert_eq!(ids.len(), expected);
            prop_assert!(
                ids.windows(2).all(|w| w[0] < w[1]),
                "ids not in array order"
            );
            if !ids.is_empty() {
                let same: bool = client
                    .query_one(
                        &format!(
                            "SELECT array_agg(m.payload ORDER BY m.id) = {array} \
                         FROM mq.messages m WHERE m.id = ANY($1)"
                        ),
                        &[&ids],
                    )
                    .unwrap()
                    .get(0);
                prop_assert!(same, "payloads were not stored in order");
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------------------------
// mq_poll

#[derive(Debug, Clone)]
struct Poll {
    topic: Topic,
    batch_size: Int,
    lock_timeout: Option<Interval>,
    consumer_id: Option<String>,
    wait: Option<Interval>,
}

impl Poll {
    fn errors(&self) -> Vec<Option<&'static str>> {
        let lock = match self.lock_timeout.as_ref().and_then(Interval::micros_approx) {
            Some(m) if m <= 0 => Some("22023"),
            Some(m) if m > 300_000 * 365 * 86_400_000_000 => Some("22023"),
            _ => None,
        };
        let consumer = self
            .consumer_id
            .as_ref()
            .and_then(|c| (c.chars().count() > 255).then_some("22023"));
        let wait = match &self.wait {
            Some(Interval::Null) => Some("22004"),
            Some(i) if i.micros_approx() < Some(0) => Some("22023"),
            _ => None,
        };
        vec![
            self.topic.error(),
            self.batch_size.error(),
            lock,
            consumer,
            wait,
        ]
    }
}

fn poll_case() -> impl Strategy<Value = Poll> {
    (
        maybe_bad(valid_topic(), bad_topic(), 8),
        maybe_bad(
            (1i32..=10_000).prop_map(Int::Value),
            prop_oneof![
                Just(Int::Null),
                (i32::MIN..1).prop_map(Int::Refused),
                (10_001..i32::MAX).prop_map(Int::Refused),
                out_of_int_range()
            ],
            6,
        ),
        prop_oneof![
            4 => Just(None),
            3 => (1i32..1_000).prop_map(|d| Some(Interval::Parts(0, d, 0))),
            1 => interval(true).prop_map(Some),
            1 => huge_interval().prop_map(Some),
        ],
        prop_oneof![
            4 => Just(None),
            3 => "\\PC{1,255}".prop_map(Some),
            1 => "[a-z]{256,300}".prop_map(Some),
        ],
        prop_oneof![
            8 => Just(None),
            1 => Just(Some(Interval::Parts(0, 0, 0))),
            1 => Just(Some(Interval::Null)),
            1 => (1i64..1_000).prop_map(|s| Some(Interval::Parts(0, 0, -s))),
        ],
    )
        .prop_map(
            |(topic, batch_size, lock_timeout, consumer_id, wait)| Poll {
                topic,
                batch_size,
                lock_timeout,
                consumer_id,
                wait,
            },
        )
        .prop_filter("at most one faulty argument", |p| {
            at_most_one_fault(&p.errors())
        })
}

fn poll_sweep(cluster: &Cluster) {
    // Something to poll in every pool topic.
    let mut admin = cluster.connect();
    for topic in POOL {
        admin
            .execute(
                "SELECT mq_publish_batch($1, array_agg(jsonb_build_object('n', g))) FROM generate_series(1, 3000) g",
                &[&topic],
            )
            .unwrap();
    }
    sweep(
        cluster,
        "mq_poll",
        cases(800),
        poll_case(),
        |client, case| {
            let sql = format!(
                "SELECT id, lease FROM mq_poll({}, {}, {}, {}, {})",
                case.topic.sql(),
                case.batch_size.sql(),
                case.lock_timeout
                    .as_ref()
                    .map_or("NULL::interval".into(), Interval::sql),
                case.consumer_id.as_deref().map_or("NULL::text".into(), lit),
                case.wait
                    .as_ref()
                    .map_or("'0'::interval".into(), Interval::sql),
            );
            let expected = first_error(&case.errors());
            let Some(rows) = call(client, &sql, expected)? else {
                return Ok(());
            };
            let Int::Value(batch) = case.batch_size else {
                unreachable!()
            };
            prop_assert!(rows.len() <= batch as usize);
            for row in &rows {
                let (id, lease): (i64, uuid::Uuid) = (row.get(0), row.get(1));
                let held: bool = client
                    .query_one(
                        &format!(
                            "SELECT status = 'PROCESSING' AND lease = $2 \
                                AND consumer_id = coalesce({}, consumer_id) \
                         FROM mq.messages WHERE id = $1",
                            case.consumer_id.as_deref().map_or("NULL::text".into(), lit)
                        ),
                        &[&id, &lease],
                    )
                    .unwrap()
                    .get(0);
                prop_assert!(held, "polled message {} is not held with its lease", id);
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------------------------
// mq_complete and mq_fail, by id and by array

/// Which message an id argument names, chosen from the table at run time.
#[derive(Debug, Clone, Copy)]
enum Target {
    Processing(usize),
    Finished(usize),
    Pending(usize),
    Unknown(i64),
    Null,
}

#[derive(Debug, Clone)]
enum Settle {
    Complete {
        id: Target,
        lease: LeaseArg,
    },
    Fail {
        id: Target,
        error: Option<String>,
        lease: LeaseArg,
    },
    CompleteBatch(Option<Vec<(Target, LeaseArg)>>),
    FailBatch(Option<Vec<(Target, LeaseArg)>>, Option<String>),
}

#[derive(Debug, Clone, Copy)]
enum LeaseArg {
    None,
    Current,
    Random(u128),
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        6 => any::<prop::sample::Index>().prop_map(|i| Target::Processing(i.index(1 << 20))),
        2 => any::<prop::sample::Index>().prop_map(|i| Target::Finished(i.index(1 << 20))),
        1 => any::<prop::sample::Index>().prop_map(|i| Target::Pending(i.index(1 << 20))),
        1 => prop_oneof![(i64::MIN..0), (1i64 << 40..i64::MAX)].prop_map(Target::Unknown),
        1 => Just(Target::Null),
    ]
}

fn lease_arg() -> impl Strategy<Value = LeaseArg> {
    prop_oneof![
        2 => Just(LeaseArg::None),
        3 => Just(LeaseArg::Current),
        1 => any::<u128>().prop_map(LeaseArg::Random),
    ]
}

fn settle_case() -> impl Strategy<Value = Settle> {
    let error = || proptest::option::of("\\PC{0,300}");
    let many =
        || proptest::option::weighted(0.95, prop::collection::vec((target(), lease_arg()), 0..12));
    prop_oneof![
        (target(), lease_arg()).prop_map(|(id, lease)| Settle::Complete { id, lease }),
        (target(), error(), lease_arg()).prop_map(|(id, error, lease)| Settle::Fail {
            id,
            error,
            lease
        }),
        many().prop_map(Settle::CompleteBatch),
        (many(), error()).prop_map(|(ids, error)| Settle::FailBatch(ids, error)),
    ]
}

/// A message of the table standing for a target: (id, status, lease, retry_count, max_retries).
type Message = (i64, String, Option<uuid::Uuid>, i32, i32);

/// A batch element: the message (None: a NULL id), the lease passed (None: NULL), and whether
/// that lease is the message's current one.
type BatchElement = (Option<Message>, Option<String>, bool);

fn resolve(client: &mut Client, target: Target) -> Option<Message> {
    let (status, pick) = match target {
        Target::Processing(i) => ("PROCESSING", i),
        Target::Finished(i) => ("COMPLETED", i),
        Target::Pending(i) => ("PENDING", i),
        Target::Unknown(id) => return Some((id, "unknown".into(), None, 0, 0)),
        Target::Null => return None,
    };
    let rows = client
        .query(
            "SELECT id, status, lease, retry_count, max_retries FROM mq.messages \
             WHERE status = $1 ORDER BY id DESC LIMIT 200",
            &[&status],
        )
        .unwrap();
    if rows.is_empty() {
        return Some((-1, "unknown".into(), None, 0, 0));
    }
    let row = &rows[pick % rows.len()];
    Some((row.get(0), row.get(1), row.get(2), row.get(3), row.get(4)))
}

fn id_sql(message: &Option<Message>) -> String {
    message
        .as_ref()
        .map_or("NULL::bigint".into(), |m| format!("({})::bigint", m.0))
}

fn lease_sql(lease: LeaseArg, message: &Option<Message>) -> (String, bool) {
    let current = message.as_ref().and_then(|m| m.2);
    match lease {
        LeaseArg::None => ("NULL::uuid".into(), true),
        LeaseArg::Current => match current {
            Some(l) => (format!("'{l}'::uuid"), true),
            None => ("NULL::uuid".into(), true),
        },
        LeaseArg::Random(r) => (format!("'{}'::uuid", uuid::Uuid::from_u128(r)), false),
    }
}

fn settle_sweep(cluster: &Cluster) {
    // Messages in flight (a long lock: nothing expires during the sweep) and finished ones.
    let mut admin = cluster.connect();
    admin
        .batch_execute(
            "SELECT mq_publish_batch('bi-settle', array_agg(jsonb_build_object('n', g)), max_retries => (g % 3)::int) \
               FROM generate_series(1, 3000) g GROUP BY g % 3;
             SELECT count(*) FROM mq_poll('bi-settle', 2500, lock_timeout => '1 day');
             SELECT mq_complete(id) FROM mq_poll('bi-settle', 200, lock_timeout => '1 day');",
        )
        .unwrap();
    sweep(
        cluster,
        "mq_complete / mq_fail",
        cases(1_200),
        settle_case(),
        |client, case| {
            match case {
                Settle::Complete { id, lease } => {
                    let message = resolve(client, id);
                    let (lease_text, lease_ok) = lease_sql(lease, &message);
                    let sql = format!("SELECT mq_complete({}, {lease_text})", id_sql(&message));
                    let expected = message.is_none().then_some("22004");
                    let Some(rows) = call(client, &sql, expected)? else {
                        return Ok(());
                    };
                    let done: bool = rows[0].get(0);
                    let should = message.as_ref().is_some_and(|m| m.1 == "PROCESSING") && lease_ok;
                    prop_assert_eq!(done, should, "{}", sql);
                }
                Settle::Fail { id, error, lease } => {
                    let message = resolve(client, id);
                    let (lease_text, lease_ok) = lease_sql(lease, &message);
                    let sql = format!(
                        "SELECT mq_fail({}, {}, {lease_text})",
                        id_sql(&message),
                        error.as_deref().map_or("NULL::text".into(), lit)
                    );
                    let expected = message.is_none().then_some("22004");
                    let Some(rows) = call(client, &sql, expected)? else {
                        return Ok(());
                    };
                    let outcome: Option<String> = rows[0].get(0);
                    let should = match &message {
                        Some((_, status, _, retries, max))
                            if status == "PROCESSING" && lease_ok =>
                        {
                            // A retry waits out its backoff (at least a moment) as SCHEDULED.
                            Some(if retries + 1 > *max {
                                "FAILED"
                            } else {
                                "SCHEDULED"
                            })
                        }
                        _ => None,
                    };
                    prop_assert_eq!(outcome.as_deref(), should, "{}", sql);
                }
                Settle::CompleteBatch(ref targets) | Settle::FailBatch(ref targets, _) => {
                    let fail = matches!(case, Settle::FailBatch(..));
                    // Each element: the message (None: a NULL id), its lease text, and whether
                    // that lease is the current one. A NULL lease element is refused.
                    let elements: Option<Vec<BatchElement>> = targets.as_ref().map(|t| {
                        t.iter()
                            .map(|(target, lease)| {
                                let message = resolve(client, *target);
                                let current = message.as_ref().and_then(|m| m.2);
                                match (lease, current) {
                                    (LeaseArg::None, _) => (message, None, false),
                                    (LeaseArg::Current, Some(l)) => {
                                        (message, Some(format!("'{l}'")), true)
                                    }
                                    (LeaseArg::Current, None) | (LeaseArg::Random(_), _) => {
                                        let r = match lease {
                                            LeaseArg::Random(r) => *r,
                                            _ => 1,
                                        };
                                        let random = uuid::Uuid::from_u128(r);
                                        let ok = current == Some(random);
                                        (message, Some(format!("'{random}'")), ok)
                                    }
                                }
                            })
                            .collect()
                    });
                    let (ids, leases) = match &elements {
                        None => ("NULL::bigint[]".to_owned(), "NULL::uuid[]".to_owned()),
                        Some(es) => (
                            format!(
                                "ARRAY[{}]::bigint[]",
                                es.iter()
                                    .map(|e| id_sql(&e.0))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                            format!(
                                "ARRAY[{}]::uuid[]",
                                es.iter()
                                    .map(|e| e.1.clone().unwrap_or_else(|| "NULL".into()))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        ),
                    };
                    let sql = if fail {
                        let error = match &case {
                            Settle::FailBatch(_, e) => {
                                e.as_deref().map_or("NULL::text".into(), lit)
                            }
                            _ => unreachable!(),
                        };
                        format!("SELECT status FROM mq_fail_batch({ids}, {leases}, {error})")
                    } else {
                        format!("SELECT status FROM mq_complete_batch({ids}, {leases})")
                    };
                    let expected = elements
                        .as_ref()
                        .is_some_and(|es| es.iter().any(|e| e.1.is_none()))
                        .then_some("22004");
                    let Some(rows) = call(client, &sql, expected)? else {
                        return Ok(());
                    };
                    let got: Vec<Option<String>> = rows.iter().map(|r| r.get(0)).collect();
                    let mut seen = std::collections::HashSet::new();
                    let should: Vec<Option<String>> = elements
                        .unwrap_or_default()
                        .iter()
                        .map(|(message, _, current)| {
                            let m = message.as_ref()?;
                            if !seen.insert(m.0) || m.1 != "PROCESSING" || !current {
                                return None;
                            }
                            Some(
                                if !fail {
                                    "COMPLETED"
                                } else if m.3 + 1 > m.4 {
                                    "FAILED"
                                } else {
                                    "SCHEDULED"
                                }
                                .to_owned(),
                            )
                        })
                        .collect();
                    prop_assert_eq!(got, should, "{}", sql);
                }
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------------------------
// mq_replay

#[derive(Debug, Clone)]
enum Replay {
    One(Target2),
    Many(Option<Vec<Target2>>),
}

#[derive(Debug, Clone, Copy)]
enum Target2 {
    Fresh(usize),
    Replayed(usize),
    Unknown(i64),
    Null,
}

fn dead_letter_target() -> impl Strategy<Value = Target2> {
    prop_oneof![
        4 => any::<prop::sample::Index>().prop_map(|i| Target2::Fresh(i.index(1 << 20))),
        2 => any::<prop::sample::Index>().prop_map(|i| Target2::Replayed(i.index(1 << 20))),
        1 => prop_oneof![(i64::MIN..0), (1i64 << 40..i64::MAX)].prop_map(Target2::Unknown),
        1 => Just(Target2::Null),
    ]
}

/// A dead letter standing for a target: its id and whether it was replayed (None: no such
/// dead letter).
type Letter = (i64, Option<bool>);

/// The dead letter standing for a target; None for NULL.
fn dead_letter(client: &mut Client, target: Target2) -> Option<Letter> {
    let (replayed, pick) = match target {
        Target2::Fresh(i) => (false, i),
        Target2::Replayed(i) => (true, i),
        Target2::Unknown(id) => return Some((id, None)),
        Target2::Null => return None,
    };
    let rows = client
        .query(
            "SELECT id FROM mq.dead_letters WHERE replayed = $1 ORDER BY id DESC LIMIT 200",
            &[&replayed],
        )
        .unwrap();
    if rows.is_empty() {
        return Some((-1, None));
    }
    Some((rows[pick % rows.len()].get(0), Some(replayed)))
}

fn replay_sweep(cluster: &Cluster) {
    let mut admin = cluster.connect();
    admin
        .batch_execute(
            "SELECT mq_publish_batch('bi-dead', array_agg(jsonb_build_object('n', g)), max_retries => 0) \
               FROM generate_series(1, 1500) g;
             SELECT count(mq_fail(id, 'sweep')) FROM mq_poll('bi-dead', 1500);",
        )
        .unwrap();
    let strategy = prop_oneof![
        dead_letter_target().prop_map(Replay::One),
        proptest::option::weighted(0.95, prop::collection::vec(dead_letter_target(), 0..10))
            .prop_map(Replay::Many),
    ];
    sweep(
        cluster,
        "mq_replay",
        cases(600),
        strategy,
        |client, case| {
            match case {
                Replay::One(target) => {
                    let letter = dead_letter(client, target);
                    let sql = format!(
                        "SELECT mq_replay({})",
                        letter.map_or("NULL::bigint".into(), |l| format!("({})::bigint", l.0))
                    );
                    let expected = match letter {
                        None => Some("22004"),
                        Some((_, None)) => Some("P0002"),
                        Some((_, Some(true))) => Some("55000"),
                        Some((_, Some(false))) => None,
                    };
                    if let Some(rows) = call(client, &sql, expected)? {
                        let new_id: i64 = rows[0].get(0);
                        let fresh: bool = client
                        .query_one(
                            "SELECT status = 'PENDING' AND retry_count = 0 FROM mq.messages WHERE id = $1",
                            &[&new_id],
                        )
                        .unwrap()
                        .get(0);
                        prop_assert!(fresh);
                    }
                }
                Replay::Many(targets) => {
                    let letters: Option<Vec<Option<Letter>>> = targets
                        .as_ref()
                        .map(|t| t.iter().map(|t| dead_letter(client, *t)).collect());
                    let sql = format!(
                        "SELECT * FROM mq_replay_batch({})",
                        letters
                            .as_ref()
                            .map_or("NULL::bigint[]".into(), |ls| format!(
                                "ARRAY[{}]::bigint[]",
                                ls.iter()
                                    .map(|l| l.map_or("NULL".into(), |l| l.0.to_string()))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ))
                    );
                    // NULL is an empty batch.
                    if let Some(rows) = call(client, &sql, None)? {
                        let mut fresh: Vec<i64> = letters
                            .unwrap_or_default()
                            .into_iter()
                            .flatten()
                            .filter(|l| l.1 == Some(false))
                            .map(|l| l.0)
                            .collect();
                        fresh.sort_unstable();
                        fresh.dedup();
                        prop_assert_eq!(rows.len(), fresh.len(), "{}", sql);
                    }
                }
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Operations: cleanup, purge, metrics, dashboard, listings, trace

#[derive(Debug, Clone)]
enum Operation {
    Cleanup(Option<String>, Option<Interval>),
    Purge(Topic),
    Metrics(Option<Interval>),
    Dashboard(Option<Interval>, Option<Interval>),
    Messages(Option<String>, Int, Int),
    Traces(Option<String>, Int, Int),
    Trace(Option<u128>),
}

impl Operation {
    fn sql(&self) -> String {
        let interval =
            |i: &Option<Interval>| i.as_ref().map_or("NULL::interval".into(), Interval::sql);
        let text = |t: &Option<String>| t.as_deref().map_or("NULL::text".into(), lit);
        match self {
            Operation::Cleanup(status, older) => {
                format!("SELECT mq_cleanup({}, {})", text(status), interval(older))
            }
            Operation::Purge(topic) => format!("SELECT mq_purge({})", topic.sql()),
            Operation::Metrics(window) => {
                format!("SELECT count(*) FROM mq_metrics({})", interval(window))
            }
            Operation::Dashboard(window, step) => {
                format!(
                    "SELECT mq_dashboard({}, {}) IS NOT NULL",
                    interval(window),
                    interval(step)
                )
            }
            Operation::Messages(status, page, size) => format!(
                "SELECT count(*) FROM mq_messages(status => {}, page => {}, page_size => {})",
                text(status),
                page.sql(),
                size.sql()
            ),
            Operation::Traces(event, page, size) => format!(
                "SELECT count(*) FROM mq_traces(event => {}, page => {}, page_size => {})",
                text(event),
                page.sql(),
                size.sql()
            ),
            Operation::Trace(id) => format!(
                "SELECT count(*) FROM mq_trace({})",
                id.map_or("NULL::uuid".into(), |t| format!(
                    "'{}'::uuid",
                    uuid::Uuid::from_u128(t)
                ))
            ),
        }
    }

    fn expected(&self) -> Option<&'static str> {
        let positive = |i: &Option<Interval>| match i.as_ref().and_then(Interval::micros_approx) {
            None => Some("22004"),
            Some(m) if m <= 0 => Some("22023"),
            Some(_) => None,
        };
        // mq.check_paging: page NULL, page_size NULL, page below 1, page_size out of range.
        let paging = |page: &Int, size: &Int| {
            let page_low = matches!(page, Int::Value(p) if *p < 1);
            let size_out = matches!(size, Int::Value(z) if !(1..=10_000).contains(z));
            page.error()
                .or(size.error())
                .or(page_low.then_some("22023"))
                .or(size_out.then_some("22023"))
        };
        match self {
            // status NULL, status unknown, older_than NULL, older_than negative.
            Operation::Cleanup(status, older) => match (status.as_deref(), older) {
                (None, _) => Some("22004"),
                (Some(s), _) if !["COMPLETED", "FAILED", "EXPIRED"].contains(&s) => Some("22023"),
                (_, None) => Some("22004"),
                (_, Some(i)) if i.micros_approx() < Some(0) => Some("22023"),
                _ => None,
            },
            Operation::Purge(topic) => topic.error(),
            Operation::Metrics(window) => positive(window),
            Operation::Dashboard(window, step) => {
                positive(window).or(positive(step)).or_else(|| {
                    let (w, s) = (
                        window.as_ref()?.micros_approx()?,
                        step.as_ref()?.micros_approx()?,
                    );
                    (w / s > 10_000).then_some("22023")
                })
            }
            Operation::Messages(status, page, size) => {
                let bad = status.as_deref().is_some_and(|s| {
                    ![
                        "SCHEDULED",
                        "PENDING",
                        "PROCESSING",
                        "COMPLETED",
                        "FAILED",
                        "EXPIRED",
                    ]
                    .contains(&s)
                });
                paging(page, size).or(bad.then_some("22023"))
            }
            Operation::Traces(event, page, size) => {
                let known = [
                    "PUBLISHED",
                    "PROCESSING",
                    "COMPLETED",
                    "FAILED",
                    "DEAD_LETTERED",
                    "REPLAYED",
                    "RECOVERED",
                    "PURGED",
                    "EXPIRED",
                ];
                let bad = event.as_deref().is_some_and(|e| !known.contains(&e));
                paging(page, size).or(bad.then_some("22023"))
            }
            Operation::Trace(id) => id.is_none().then_some("22004"),
        }
    }
}

fn operation() -> impl Strategy<Value = Operation> {
    let some_interval = || {
        prop_oneof![
            4 => (0i32..24, 0i32..30, 1i64..86_400).prop_map(|(m, d, s)| Some(Interval::Parts(m, d, s))),
            1 => Just(None),
            1 => Just(Some(Interval::Parts(0, 0, 0))),
            1 => (1i64..1_000).prop_map(|s| Some(Interval::Parts(0, 0, -s))),
            1 => huge_interval().prop_map(Some),
        ]
    };
    let word = |known: Vec<&'static str>| {
        prop_oneof![
            4 => prop::sample::select(known).prop_map(|s| Some(s.to_owned())),
            1 => Just(None),
            1 => "\\PC{0,12}".prop_map(Some),
        ]
    };
    let page = || {
        prop_oneof![
            4 => (1i32..5).prop_map(Int::Value),
            1 => any::<i32>().prop_map(Int::Value),
            1 => Just(Int::Null),
        ]
    };
    let size = || {
        prop_oneof![
            4 => (1i32..200).prop_map(Int::Value),
            1 => any::<i32>().prop_map(Int::Value),
            1 => Just(Int::Null),
        ]
    };
    prop_oneof![
        (
            word(vec!["COMPLETED", "FAILED", "EXPIRED"]),
            some_interval()
        )
            .prop_map(|(s, i)| Operation::Cleanup(s, i)),
        maybe_bad(valid_topic(), bad_topic(), 3).prop_map(Operation::Purge),
        some_interval().prop_map(Operation::Metrics),
        (some_interval(), some_interval()).prop_map(|(w, s)| Operation::Dashboard(w, s)),
        (
            word(vec![
                "SCHEDULED",
                "PENDING",
                "PROCESSING",
                "COMPLETED",
                "FAILED"
            ]),
            page(),
            size()
        )
            .prop_map(|(s, p, z)| Operation::Messages(s, p, z)),
        (
            word(vec!["PUBLISHED", "COMPLETED", "RECOVERED", "PURGED"]),
            page(),
            size()
        )
            .prop_map(|(e, p, z)| Operation::Traces(e, p, z)),
        proptest::option::weighted(0.9, any::<u128>()).prop_map(Operation::Trace),
    ]
}

fn operations_sweep(cluster: &Cluster) {
    sweep(
        cluster,
        "operations",
        cases(900),
        operation(),
        |client, case| {
            let sql = case.sql();
            let before = client
                .query_one(
                    "SELECT count(*) FILTER (WHERE status IN ('PENDING', 'SCHEDULED')), count(*) \
                     FROM mq.messages",
                    &[],
                )
                .unwrap();
            let Some(rows) = call(client, &sql, case.expected())? else {
                return Ok(());
            };
            if let Operation::Purge(Topic::Valid(topic)) = &case {
                // Purge removed exactly the topic's waiting (PENDING and SCHEDULED) messages.
                let purged: i64 = rows[0].get(0);
                let left: i64 = client
                    .query_one(
                        "SELECT count(*) FROM mq.messages \
                         WHERE topic = $1 AND status IN ('PENDING', 'SCHEDULED')",
                        &[topic],
                    )
                    .unwrap()
                    .get(0);
                prop_assert_eq!(left, 0);
                let pending_before: i64 = before.get(0);
                prop_assert!(purged <= pending_before);
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------------------------------------
// The topic catalog: mq_create_topic, mq_alter_topic, mq_pause / mq_resume, mq_drop_topic,
// mq_topic_config. Topics of their own, which never get messages.

const TOPIC_POOL: [&str; 3] = ["bt-a", "bt-b", "bt.c"];

/// An interval setting of a topic: valid when longer than zero (or, for the backoffs, not
/// negative) and at most 1000 years.
#[derive(Debug, Clone)]
struct Setting(Option<Interval>);

impl Setting {
    fn sql(&self) -> String {
        self.0
            .as_ref()
            .map_or("NULL::interval".into(), Interval::sql)
    }
    fn error(&self, zero_ok: bool) -> Option<&'static str> {
        let micros = self.0.as_ref()?.micros_approx()?;
        let longest = 1_000i128 * 365 * 86_400_000_000;
        if micros < 0 || (micros == 0 && !zero_ok) || micros > longest {
            Some("22023")
        } else {
            None
        }
    }
}

fn setting() -> BoxedStrategy<Setting> {
    prop_oneof![
        6 => Just(Setting(None)),
        4 => (0i32..24, 0i32..30, 1i64..86_400).prop_map(|(m, d, s)| Setting(Some(Interval::Parts(m, d, s)))),
        1 => Just(Setting(Some(Interval::Parts(0, 0, 0)))),
        1 => (1i64..1_000).prop_map(|s| Setting(Some(Interval::Parts(0, 0, -s)))),
        1 => (12_200i32..100_000).prop_map(|m| Setting(Some(Interval::Parts(m, 0, 0)))),
    ]
    .boxed()
}

#[derive(Debug, Clone)]
struct TopicArgs {
    max_retries: Option<Int>,
    retry_base_delay: Setting,
    retry_max_delay: Setting,
    lock_timeout: Setting,
    message_ttl: Setting,
    max_depth: Option<i64>,
    retention: Setting,
    description: Option<String>,
    dedup_window: Setting,
    ordering_dead_letter: Option<String>,
}

impl TopicArgs {
    fn sql(&self) -> String {
        format!(
            "max_retries => {}, retry_base_delay => {}, retry_max_delay => {}, lock_timeout => {}, \
             message_ttl => {}, max_depth => {}, retention => {}, description => {}, \
             dedup_window => {}, ordering_dead_letter => {}",
            self.max_retries.as_ref().map_or("NULL::int".into(), Int::sql),
            self.retry_base_delay.sql(),
            self.retry_max_delay.sql(),
            self.lock_timeout.sql(),
            self.message_ttl.sql(),
            self.max_depth.map_or("NULL::bigint".into(), |d| format!("({d})::bigint")),
            self.retention.sql(),
            self.description.as_deref().map_or("NULL::text".into(), lit),
            self.dedup_window.sql(),
            self.ordering_dead_letter.as_deref().map_or("NULL::text".into(), lit),
        )
    }
    /// In the order the functions check them (the order of their arguments).
    fn errors(&self) -> Vec<Option<&'static str>> {
        let retries = match &self.max_retries {
            Some(Int::Value(n)) if *n < 0 => Some("22023"),
            Some(i) => i.error(),
            None => None,
        };
        vec![
            retries,
            self.retry_base_delay.error(true),
            self.retry_max_delay.error(true),
            self.lock_timeout.error(false),
            self.message_ttl.error(false),
            self.max_depth.filter(|d| *d < 1).map(|_| "22023"),
            self.retention.error(false),
            self.description
                .as_ref()
                .filter(|d| d.chars().count() > 1_000)
                .map(|_| "22023"),
            self.dedup_window.error(false),
            self.ordering_dead_letter
                .as_deref()
                .filter(|o| *o != "skip" && *o != "block")
                .map(|_| "22023"),
        ]
    }
}

fn topic_args() -> BoxedStrategy<TopicArgs> {
    (
        prop_oneof![
            4 => Just(None),
            3 => (0i32..100).prop_map(|n| Some(Int::Value(n))),
            1 => (i32::MIN..0).prop_map(|n| Some(Int::Value(n))),
            1 => out_of_int_range().prop_map(Some),
        ],
        (setting(), setting(), setting(), setting()),
        prop_oneof![
            4 => Just(None),
            3 => (1i64..1_000_000).prop_map(Some),
            1 => (i64::MIN..1).prop_map(Some),
        ],
        setting(),
        prop_oneof![
            4 => Just(None),
            2 => "\\PC{0,40}".prop_map(Some),
            1 => "[a-z]{1001,1100}".prop_map(Some),
        ],
        setting(),
        prop_oneof![
            4 => Just(None),
            2 => prop::sample::select(vec!["skip", "block"]).prop_map(|s| Some(s.to_owned())),
            1 => "\\PC{0,8}".prop_map(Some),
        ],
    )
        .prop_map(
            |(
                max_retries,
                (base, max, lock, ttl),
                max_depth,
                retention,
                description,
                dedup,
                odl,
            )| {
                TopicArgs {
                    max_retries,
                    retry_base_delay: base,
                    retry_max_delay: max,
                    lock_timeout: lock,
                    message_ttl: ttl,
                    max_depth,
                    retention,
                    description,
                    dedup_window: dedup,
                    ordering_dead_letter: odl,
                }
            },
        )
        .boxed()
}

#[derive(Debug, Clone)]
enum TopicCall {
    Create(Topic, TopicArgs),
    /// The reset list: None for NULL; elements None for NULL.
    Alter(Topic, TopicArgs, Option<Vec<Option<String>>>),
    Pause(Topic),
    Resume(Topic),
    Drop(Topic, Option<bool>),
    Config(Topic),
}

const KNOBS: [&str; 10] = [
    "max_retries",
    "retry_base_delay",
    "retry_max_delay",
    "lock_timeout",
    "message_ttl",
    "max_depth",
    "retention",
    "dedup_window",
    "ordering_dead_letter",
    "description",
];

impl TopicCall {
    fn topic(&self) -> &Topic {
        match self {
            TopicCall::Create(t, _)
            | TopicCall::Alter(t, ..)
            | TopicCall::Pause(t)
            | TopicCall::Resume(t)
            | TopicCall::Drop(t, _)
            | TopicCall::Config(t) => t,
        }
    }
    fn sql(&self) -> String {
        match self {
            TopicCall::Create(t, a) => {
                format!("SELECT mq_create_topic({}, {})::text", t.sql(), a.sql())
            }
            TopicCall::Alter(t, a, reset) => {
                let reset = reset.as_ref().map_or("NULL::text[]".into(), |names| {
                    let items: Vec<String> = names
                        .iter()
                        .map(|n| n.as_deref().map_or("NULL".into(), lit))
                        .collect();
                    format!("ARRAY[{}]::text[]", items.join(", "))
                });
                format!(
                    "SELECT mq_alter_topic({}, {}, reset => {reset})::text",
                    t.sql(),
                    a.sql()
                )
            }
            TopicCall::Pause(t) => format!("SELECT mq_pause({})::text", t.sql()),
            TopicCall::Resume(t) => format!("SELECT mq_resume({})::text", t.sql()),
            TopicCall::Drop(t, force) => format!(
                "SELECT mq_drop_topic({}, {})::text",
                t.sql(),
                force.map_or("NULL::boolean".into(), |f| f.to_string())
            ),
            TopicCall::Config(t) => {
                format!("SELECT count(*)::text FROM mq_topic_config({})", t.sql())
            }
        }
    }
    /// The expected SQLSTATE, given whether the (valid) topic exists now.
    fn expected(&self, exists: bool) -> Option<&'static str> {
        if let Some(e) = self.topic().error() {
            return Some(e);
        }
        let missing = (!exists).then_some("42704");
        match self {
            TopicCall::Create(_, a) => first_error(&a.errors()),
            TopicCall::Alter(_, a, reset) => {
                let reset_error = reset.as_ref().and_then(|names| {
                    names.iter().find_map(|n| match n {
                        None => Some("22004"),
                        Some(n) if !KNOBS.contains(&n.as_str()) => Some("22023"),
                        Some(_) => None,
                    })
                });
                first_error(&a.errors()).or(reset_error).or(missing)
            }
            TopicCall::Drop(_, None) => Some("22004"),
            TopicCall::Pause(_)
            | TopicCall::Resume(_)
            | TopicCall::Drop(..)
            | TopicCall::Config(_) => missing,
        }
    }
}

fn topic_call() -> impl Strategy<Value = TopicCall> {
    let topic = || {
        maybe_bad(
            prop::sample::select(TOPIC_POOL.to_vec()).prop_map(|t| Topic::Valid(t.to_owned())),
            bad_topic(),
            6,
        )
    };
    let reset = prop_oneof![
        3 => Just(None),
        3 => prop::collection::vec(prop::sample::select(KNOBS.to_vec()).prop_map(|k| Some(k.to_owned())), 0..4).prop_map(Some),
        1 => prop::collection::vec(prop_oneof![Just(None), "[a-z_]{1,12}".prop_map(Some)], 1..3).prop_map(Some),
    ];
    prop_oneof![
        4 => (topic(), topic_args()).prop_map(|(t, a)| TopicCall::Create(t, a)),
        4 => (topic(), topic_args(), reset).prop_map(|(t, a, r)| TopicCall::Alter(t, a, r)),
        1 => topic().prop_map(TopicCall::Pause),
        1 => topic().prop_map(TopicCall::Resume),
        1 => (topic(), prop_oneof![4 => any::<bool>().prop_map(Some), 1 => Just(None)])
            .prop_map(|(t, f)| TopicCall::Drop(t, f)),
        1 => topic().prop_map(TopicCall::Config),
    ]
    .prop_filter("at most one faulty argument", |c| {
        let mut errors = vec![c.topic().error()];
        match c {
            TopicCall::Create(_, a) | TopicCall::Alter(_, a, _) => errors.extend(a.errors()),
            _ => {}
        }
        at_most_one_fault(&errors)
    })
}

fn topics_sweep(cluster: &Cluster) {
    sweep(
        cluster,
        "topics",
        cases(900),
        topic_call(),
        |client, case| {
            let name = match case.topic() {
                Topic::Valid(t) => Some(t.clone()),
                _ => None,
            };
            let row = |client: &mut Client| -> Option<String> {
                let name = name.as_ref()?;
                client
                    .query_opt(
                        "SELECT to_jsonb(t)::text FROM mq.topics t WHERE topic = $1",
                        &[name],
                    )
                    .unwrap()
                    .map(|r| r.get(0))
            };
            let before = row(client);
            let expected = case.expected(before.is_some());
            let result = client.query(case.sql().as_str(), &[]);
            match (result, expected) {
                (Ok(rows), None) => {
                    let after = row(client);
                    match &case {
                        TopicCall::Create(..) => {
                            let created = rows[0].get::<_, String>(0) == "true";
                            prop_assert_eq!(created, before.is_none());
                            prop_assert!(after.is_some());
                            if !created {
                                prop_assert_eq!(after, before, "an existing topic was changed");
                            }
                        }
                        TopicCall::Drop(..) => prop_assert!(after.is_none()),
                        TopicCall::Pause(_) | TopicCall::Resume(_) => {
                            let paused = matches!(case, TopicCall::Pause(_));
                            let now: bool = client
                                .query_one(
                                    "SELECT paused FROM mq.topics WHERE topic = $1",
                                    &[name.as_ref().unwrap()],
                                )
                                .unwrap()
                                .get(0);
                            prop_assert_eq!(now, paused);
                        }
                        TopicCall::Alter(..) | TopicCall::Config(_) => {
                            prop_assert!(after.is_some())
                        }
                    }
                    Ok(())
                }
                (Err(e), Some(state)) if sqlstate(&e) == state => {
                    prop_assert_eq!(
                        row(client),
                        before,
                        "{} failed but changed the topic",
                        shorten(&case.sql())
                    );
                    Ok(())
                }
                (Ok(_), Some(state)) => Err(TestCaseError::fail(format!(
                    "{}: expected SQLSTATE {state}, it succeeded",
                    shorten(&case.sql())
                ))),
                (Err(e), expected) => Err(TestCaseError::fail(format!(
                    "{}: expected {}, got {} {e}",
                    shorten(&case.sql()),
                    expected.unwrap_or("success"),
                    sqlstate(&e)
                ))),
            }
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Publish–subscribe: mq_subscribe, mq_unsubscribe, mq_subscriptions, mq_poll with a group.

#[derive(Debug, Clone)]
enum PatternArg {
    Valid(String),
    Null,
    Bad(String),
}

impl PatternArg {
    fn sql(&self) -> String {
        match self {
            PatternArg::Valid(p) | PatternArg::Bad(p) => lit(p),
            PatternArg::Null => "NULL::text".into(),
        }
    }
    fn error(&self) -> Option<&'static str> {
        match self {
            PatternArg::Valid(_) => None,
            PatternArg::Null => Some("22004"),
            PatternArg::Bad(_) => Some("22023"),
        }
    }
}

fn pattern_arg() -> BoxedStrategy<PatternArg> {
    prop_oneof![
        6 => prop::sample::select(vec!["bs.*", "bs.#", "bs.a", "#", "bs.*.x", "*.b"])
            .prop_map(|p| PatternArg::Valid(p.to_owned())),
        1 => Just(PatternArg::Null),
        2 => prop::sample::select(vec!["", "bs..a", ".bs", "bs.", "b*s", "bs.#x", "a b", "é.x"])
            .prop_map(|p| PatternArg::Bad(p.to_owned())),
        1 => "[a-z]{256,270}".prop_map(PatternArg::Bad),
    ]
    .boxed()
}

/// A consumer group's name (the topic rules, for argument consumer_group).
fn group_arg() -> BoxedStrategy<Topic> {
    maybe_bad(
        prop::sample::select(vec!["bg-one", "bg-two", "bg.three"])
            .prop_map(|g| Topic::Valid(g.to_owned())),
        bad_topic(),
        6,
    )
}

#[derive(Debug, Clone)]
enum SubscriptionCall {
    /// start_at: seconds ago (negative: in the future), or None.
    Subscribe(Topic, PatternArg, Option<i64>),
    Unsubscribe(Topic, Option<PatternArg>),
    List(Option<Topic>),
    /// topic (None: NULL), group.
    Poll(Option<Topic>, Topic),
}

impl SubscriptionCall {
    fn sql(&self) -> String {
        match self {
            SubscriptionCall::Subscribe(g, p, at) => format!(
                "SELECT mq_subscribe({}, {}, {})::text",
                g.sql(),
                p.sql(),
                at.map_or("NULL::timestamptz".into(), |s| format!(
                    "clock_timestamp() - interval '{s} seconds'"
                ))
            ),
            SubscriptionCall::Unsubscribe(g, p) => format!(
                "SELECT mq_unsubscribe({}, {})::text",
                g.sql(),
                p.as_ref().map_or("NULL::text".into(), PatternArg::sql)
            ),
            SubscriptionCall::List(g) => format!(
                "SELECT count(*)::text FROM mq_subscriptions({})",
                g.as_ref().map_or("NULL::text".into(), Topic::sql)
            ),
            SubscriptionCall::Poll(t, g) => format!(
                "SELECT count(*)::text FROM mq_poll({}, 5, consumer_group => {})",
                t.as_ref().map_or("NULL::text".into(), Topic::sql),
                g.sql()
            ),
        }
    }
    fn errors(&self) -> Vec<Option<&'static str>> {
        match self {
            SubscriptionCall::Subscribe(g, p, at) => {
                vec![g.error(), p.error(), at.filter(|s| *s < 0).map(|_| "22023")]
            }
            SubscriptionCall::Unsubscribe(g, p) => {
                // A NULL pattern is every pattern of the group.
                let pattern = p.as_ref().and_then(|p| match p {
                    PatternArg::Null => None,
                    other => other.error(),
                });
                vec![g.error(), pattern]
            }
            // A NULL group lists every group.
            SubscriptionCall::List(g) => vec![g.as_ref().and_then(|g| match g {
                Topic::Null => None,
                other => other.error(),
            })],
            SubscriptionCall::Poll(t, g) => {
                // A NULL group is point-to-point: then the topic is required.
                let group = match g {
                    Topic::Null => None,
                    other => other.error(),
                };
                let topic = match (t, g) {
                    (None | Some(Topic::Null), Topic::Null) => Some("22004"),
                    (None | Some(Topic::Null), _) => None,
                    (Some(t), _) => t.error(),
                };
                vec![group, topic]
            }
        }
    }
}

fn subscription_call() -> impl Strategy<Value = SubscriptionCall> {
    let pool_topic = || {
        maybe_bad(
            prop::sample::select(vec!["bs.a", "bs.b.x", "other"])
                .prop_map(|t| Topic::Valid(t.to_owned())),
            bad_topic(),
            6,
        )
    };
    prop_oneof![
        3 => (group_arg(), pattern_arg(), proptest::option::weighted(0.3, -1_000i64..100_000))
            .prop_map(|(g, p, a)| SubscriptionCall::Subscribe(g, p, a)),
        2 => (group_arg(), proptest::option::weighted(0.6, pattern_arg()))
            .prop_map(|(g, p)| SubscriptionCall::Unsubscribe(g, p)),
        1 => proptest::option::weighted(0.5, group_arg()).prop_map(SubscriptionCall::List),
        3 => (proptest::option::weighted(0.6, pool_topic()), group_arg())
            .prop_map(|(t, g)| SubscriptionCall::Poll(t, g)),
    ]
    .prop_filter("at most one faulty argument", |c| {
        at_most_one_fault(&c.errors())
    })
}

fn subscriptions_sweep(cluster: &Cluster) {
    sweep(
        cluster,
        "subscriptions",
        cases(600),
        subscription_call(),
        |client, case| {
            let subscriptions = |client: &mut Client| -> Vec<String> {
                client
                .query(
                    "SELECT consumer_group || ' ' || topic_pattern FROM mq.subscriptions ORDER BY 1",
                    &[],
                )
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect()
            };
            let before = subscriptions(client);
            let mut expected = first_error(&case.errors());
            if expected.is_none() {
                // A group polled must have a subscription.
                if let SubscriptionCall::Poll(_, Topic::Valid(g)) = &case {
                    if !before
                        .iter()
                        .any(|s| s.split(' ').next() == Some(g.as_str()))
                    {
                        expected = Some("42704");
                    }
                }
            }
            match (client.query(case.sql().as_str(), &[]), expected) {
                (Ok(_), None) => {
                    let after = subscriptions(client);
                    match &case {
                        SubscriptionCall::Subscribe(Topic::Valid(g), PatternArg::Valid(p), _) => {
                            let wanted = format!("{g} {p}");
                            prop_assert!(after.contains(&wanted));
                        }
                        SubscriptionCall::Unsubscribe(Topic::Valid(g), p) => {
                            let gone = |s: &String| {
                                let mut parts = s.splitn(2, ' ');
                                let (sg, sp) = (parts.next().unwrap(), parts.next().unwrap());
                                sg == g
                                    && p.as_ref().is_none_or(
                                        |p| matches!(p, PatternArg::Valid(v) if v == sp),
                                    )
                            };
                            prop_assert!(!after.iter().any(gone));
                        }
                        _ => prop_assert_eq!(after, before),
                    }
                    Ok(())
                }
                (Err(e), Some(state)) if sqlstate(&e) == state => {
                    prop_assert_eq!(subscriptions(client), before);
                    Ok(())
                }
                (Ok(_), Some(state)) => Err(TestCaseError::fail(format!(
                    "{}: expected SQLSTATE {state}, it succeeded",
                    shorten(&case.sql())
                ))),
                (Err(e), expected) => Err(TestCaseError::fail(format!(
                    "{}: expected {}, got {} {e}",
                    shorten(&case.sql()),
                    expected.unwrap_or("success"),
                    sqlstate(&e)
                ))),
            }
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Ordering and dedup keys: mq_publish's ordering_key and dedup_key, mq_publish_batch's
// ordering_keys and dedup_keys.

#[derive(Debug, Clone)]
enum KeyArg {
    Valid(String),
    Null,
    Empty,
    TooLong(String),
    InvalidUtf8(Vec<u8>),
}

impl KeyArg {
    fn sql(&self) -> String {
        match self {
            KeyArg::Valid(k) | KeyArg::TooLong(k) => lit(k),
            KeyArg::Null => "NULL::text".into(),
            KeyArg::Empty => "''".into(),
            KeyArg::InvalidUtf8(b) => format!("convert_from('\\x{}'::bytea, 'UTF8')", hex(b)),
        }
    }
    fn error(&self) -> Option<&'static str> {
        match self {
            KeyArg::Valid(_) | KeyArg::Null => None,
            KeyArg::Empty | KeyArg::TooLong(_) => Some("22023"),
            KeyArg::InvalidUtf8(_) => Some("22021"),
        }
    }
}

fn key_arg() -> BoxedStrategy<KeyArg> {
    maybe_bad(
        prop_oneof![
            // Few keys, so that dedup keys repeat and ordering keys queue up.
            3 => prop::sample::select(vec!["k1", "k2", "order-7", "é ü 💥", "a'b"])
                .prop_map(|k| KeyArg::Valid(k.to_owned())),
            2 => Just(KeyArg::Null),
            1 => "[a-z]{255}".prop_map(KeyArg::Valid),
        ],
        prop_oneof![
            Just(KeyArg::Empty),
            "[a-z]{256,280}".prop_map(KeyArg::TooLong),
            Just(KeyArg::InvalidUtf8(vec![0xc3, 0x28])),
        ],
        8,
    )
}

#[derive(Debug, Clone)]
enum KeysCall {
    /// topic, ordering_key, dedup_key.
    Publish(Topic, KeyArg, KeyArg),
    /// topic, payload count, ordering_keys, dedup_keys (None: NULL array).
    Batch(Topic, usize, Option<Vec<KeyArg>>, Option<Vec<KeyArg>>),
}

fn key_array(keys: &Option<Vec<KeyArg>>) -> String {
    keys.as_ref().map_or("NULL::text[]".into(), |k| {
        format!(
            "ARRAY[{}]::text[]",
            k.iter().map(KeyArg::sql).collect::<Vec<_>>().join(", ")
        )
    })
}

fn key_array_error(keys: &Option<Vec<KeyArg>>, payloads: usize) -> Option<&'static str> {
    let keys = keys.as_ref()?;
    // A bad byte sequence fails as the array is built, before the call.
    if keys.iter().any(|k| matches!(k, KeyArg::InvalidUtf8(_))) {
        return Some("22021");
    }
    if keys.len() != payloads {
        return Some("22023");
    }
    keys.iter().find_map(KeyArg::error)
}

impl KeysCall {
    fn sql(&self) -> String {
        match self {
            KeysCall::Publish(t, o, d) => format!(
                "SELECT mq_publish({}, '{{\"k\": 1}}', ordering_key => {}, dedup_key => {})::text",
                t.sql(),
                o.sql(),
                d.sql()
            ),
            KeysCall::Batch(t, n, o, d) => format!(
                "SELECT string_agg(id::text, ',') FROM mq_publish_batch({}, \
                 (SELECT coalesce(array_agg(jsonb_build_object('n', g)), '{{}}') \
                  FROM generate_series(1, {n}) g), ordering_keys => {}, dedup_keys => {}) id",
                t.sql(),
                key_array(o),
                key_array(d)
            ),
        }
    }
    fn errors(&self) -> Vec<Option<&'static str>> {
        match self {
            KeysCall::Publish(t, o, d) => vec![t.error(), o.error(), d.error()],
            KeysCall::Batch(t, n, o, d) => {
                vec![t.error(), key_array_error(o, *n), key_array_error(d, *n)]
            }
        }
    }
}

fn keys_call() -> impl Strategy<Value = KeysCall> {
    let topic = || {
        maybe_bad(
            prop::sample::select(vec!["bk-a", "bk-b"]).prop_map(|t| Topic::Valid(t.to_owned())),
            bad_topic(),
            8,
        )
    };
    // Mostly one key per payload; sometimes a wrong count.
    let batch = (topic(), 0usize..6).prop_flat_map(move |(t, n)| {
        let keys = move || {
            proptest::option::weighted(
                0.7,
                prop_oneof![
                    12 => prop::collection::vec(key_arg(), n..=n),
                    1 => prop::collection::vec(key_arg(), 0..8),
                ],
            )
        };
        (Just(t), Just(n), keys(), keys())
    });
    prop_oneof![
        2 => (topic(), key_arg(), key_arg()).prop_map(|(t, o, d)| KeysCall::Publish(t, o, d)),
        1 => batch.prop_map(|(t, n, o, d)| KeysCall::Batch(t, n, o, d)),
    ]
    .prop_filter("at most one faulty argument", |c| {
        at_most_one_fault(&c.errors())
    })
}

fn keys_sweep(cluster: &Cluster) {
    sweep(cluster, "keys", cases(500), keys_call(), |client, case| {
        let expected = first_error(&case.errors());
        let Some(rows) = call(client, &case.sql(), expected)? else {
            return Ok(());
        };
        let ids: Vec<i64> = rows
            .first()
            .and_then(|r| r.get::<_, Option<String>>(0))
            .map(|s| s.split(',').map(|i| i.parse().unwrap()).collect())
            .unwrap_or_default();
        // Every id returned is a message of the topic carrying the keys it was published with
        // (a delivery of it, when the subscriptions sweep left groups subscribed to '#'); a
        // dedup key maps to one message however often it is published.
        let (topic, ordering, dedup): (String, Vec<KeyArg>, Vec<KeyArg>) = match &case {
            KeysCall::Publish(Topic::Valid(t), o, d) => {
                (t.clone(), vec![o.clone()], vec![d.clone()])
            }
            KeysCall::Batch(Topic::Valid(t), n, o, d) => (
                t.clone(),
                o.clone().unwrap_or_else(|| vec![KeyArg::Null; *n]),
                d.clone().unwrap_or_else(|| vec![KeyArg::Null; *n]),
            ),
            _ => return Err(TestCaseError::fail("a call with a bad topic succeeded")),
        };
        prop_assert_eq!(ids.len(), ordering.len());
        for (i, id) in ids.iter().enumerate() {
            let row = client
                .query_one(
                    "SELECT m.topic, m.ordering_key, \
                            (SELECT d.message_id FROM mq.dedup_keys d \
                             WHERE d.topic = m.topic AND d.dedup_key = $2) \
                     FROM mq.messages m WHERE coalesce(m.payload_id, m.id) = $1 LIMIT 1",
                    &[
                        id,
                        &match &dedup[i] {
                            KeyArg::Valid(k) => Some(k.clone()),
                            _ => None,
                        },
                    ],
                )
                .unwrap();
            prop_assert_eq!(row.get::<_, String>(0), topic.clone());
            if let KeyArg::Valid(k) = &dedup[i] {
                // An earlier message of the key, or this one: the key's holder either way.
                prop_assert_eq!(
                    row.get::<_, Option<i64>>(2),
                    Some(*id),
                    "dedup key {} held by another message",
                    k
                );
            } else if let KeyArg::Valid(k) = &ordering[i] {
                prop_assert_eq!(row.get::<_, Option<String>>(1), Some(k.clone()));
            }
        }
        Ok(())
    });
}
