//! Every SQL statement of the console, in one place.
//!
//! Each one is fixed text calling pg_mq's SQL functions, with every value from a request bound
//! as a parameter (`$n`, always sent as text or a number and cast in SQL). Where the text
//! varies, it is put together from the constant fragments below according to the catalog (which
//! functions and arguments the installed pg_mq has), never from request text. Rows come back as
//! `row_to_json(...)::text`, one JSON object each, so a function that gains or renames a
//! column still renders.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use tokio_postgres::types::ToSql;

use crate::db::{Catalog, FunctionInfo};
use crate::error::AppError;
use crate::filters::{MessageFilter, Paging, MESSAGE_FILTERS};
use crate::rows::{parse_row, Row};

type Client = deadpool_postgres::Object;
type Param<'a> = &'a (dyn ToSql + Sync);

/// The most rows any statement returns (listings are paged below it).
pub const ROW_CAP: i64 = 500;
/// Dead letters replayed per statement when replaying everything that matches a filter.
pub const REPLAY_BATCH: i32 = 500;
/// The window of the overview's rates.
pub const RATE_WINDOW: &str = "5 minutes";

/// The pg_mq functions the console uses. Those missing from the installed version make
/// their page or section say "not available in this pg_mq version".
pub const FUNCTIONS: &[&str] = &[
    "mq_metrics",
    "mq_dashboard",
    "mq_depth",
    "mq_messages",
    "mq_dead_letters",
    "mq_traces",
    "mq_trace",
    "mq_replay",
    "mq_replay_batch",
    "mq_topics",
    "mq_topic_config",
    "mq_pause",
    "mq_resume",
    "mq_subscriptions",
    "mq_blocked_keys",
    "mq_consumers",
    "mq_health",
];

/// Run once on every new connection of the pool (the timeout is the console's own setting,
/// not request input).
pub fn session_setup(statement_timeout: Duration) -> String {
    format!(
        "SET statement_timeout = {}; SET idle_in_transaction_session_timeout = 60000; SET TimeZone = 'UTC';",
        statement_timeout.as_millis().max(1)
    )
}

pub async fn ping(client: &Client) -> Result<(), AppError> {
    client.query_one("SELECT 1", &[]).await?;
    Ok(())
}

const CATALOG_FUNCTIONS: &str = "\
SELECT p.proname::text,
       p.oid::regprocedure::text,
       ARRAY(SELECT a.name
             FROM unnest(p.proargnames,
                         coalesce(p.proargmodes,
                                  array_fill('i'::\"char\", ARRAY[cardinality(p.proargnames)])))
                  AS a(name, mode)
             WHERE a.mode IN ('i', 'b', 'v'))::text[],
       pg_catalog.has_function_privilege(p.oid, 'EXECUTE')
FROM pg_catalog.pg_proc p
WHERE p.proname = ANY($1::text[]) AND pg_catalog.pg_function_is_visible(p.oid)
ORDER BY p.pronargs";

// Through the catalogs rather than to_regclass('mq.messages'), which raises an error for a role
// without USAGE on schema mq (a monitor).
const CATALOG_ROLE: &str = "\
SELECT current_user::text,
       EXISTS (SELECT FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'mq' AND c.relname = 'messages'
                 AND pg_catalog.has_schema_privilege(n.oid, 'USAGE')
                 AND pg_catalog.has_table_privilege(c.oid, 'SELECT'))";

/// Which pg_mq functions exist, their input arguments, and what the role may execute.
pub async fn catalog(client: &Client) -> Result<Catalog, AppError> {
    let names: Vec<&str> = FUNCTIONS.to_vec();
    let rows = client.query(CATALOG_FUNCTIONS, &[&names]).await?;
    let mut functions = std::collections::HashMap::new();
    for row in rows {
        // Ordered by argument count: an overload with more arguments replaces one with fewer.
        functions.insert(
            row.get::<_, String>(0),
            FunctionInfo {
                signature: row.get(1),
                args: row.get(2),
                executable: row.get(3),
            },
        );
    }
    let role = client.query_one(CATALOG_ROLE, &[]).await?;
    Ok(Catalog {
        functions,
        user: role.get(0),
        messages_readable: role.get(1),
        read_at: std::time::Instant::now(),
        error: None,
    })
}

async fn json_rows(client: &Client, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, AppError> {
    let statement = client.prepare_cached(sql).await?;
    let rows = client.query(&statement, params).await?;
    rows.iter()
        .map(|r| {
            let text: &str = r.try_get(0)?;
            parse_row(text).map_err(|e| AppError::Internal(format!("unreadable row: {e}")))
        })
        .collect()
}

fn typed<T: for<'de> Deserialize<'de>>(row: &Row) -> Result<T, AppError> {
    serde_json::to_value(row)
        .and_then(serde_json::from_value)
        .map_err(|e| AppError::Internal(format!("unexpected row shape: {e}")))
}

/// Rows of a listing, with whether the cap cut it.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Capped {
    pub rows: Vec<Row>,
    pub truncated: bool,
}

fn capped(mut rows: Vec<Row>) -> Capped {
    let truncated = rows.len() as i64 > ROW_CAP;
    rows.truncate(ROW_CAP as usize);
    Capped { rows, truncated }
}

/// A float that PostgreSQL's JSON may give as a number or, for NaN and infinities, a string.
fn lenient_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n.as_f64(),
        _ => None,
    })
}

/// One line of the overview: a topic's queue and rates.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TopicRow {
    pub topic: String,
    /// None when the installed pg_mq cannot pause topics.
    #[serde(default)]
    pub paused: Option<bool>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub pending: i64,
    #[serde(default)]
    pub delayed: i64,
    #[serde(default)]
    pub processing: i64,
    /// Dead letters not yet replayed (from mq_topics).
    #[serde(default)]
    pub dead_letters: Option<i64>,
    #[serde(default)]
    pub consumed_total: Option<i64>,
    #[serde(default)]
    pub failed_total: Option<i64>,
    #[serde(default)]
    pub dead_letter_total: Option<i64>,
    #[serde(default, deserialize_with = "lenient_f64")]
    pub consume_rate: Option<f64>,
    #[serde(default, deserialize_with = "lenient_f64")]
    pub failure_rate: Option<f64>,
    #[serde(default, deserialize_with = "lenient_f64")]
    pub dlq_rate: Option<f64>,
    #[serde(default, deserialize_with = "lenient_f64")]
    pub success_ratio: Option<f64>,
    #[serde(default, deserialize_with = "lenient_f64")]
    pub oldest_pending_age_seconds: Option<f64>,
    #[serde(default)]
    pub created_at: Option<String>,
}

/// A page of the overview's topics.
#[derive(Debug, Clone, Serialize, Default)]
pub struct TopicList {
    pub topics: Vec<TopicRow>,
    /// Topics matching the filter, over all pages.
    pub total: i64,
}

/// The topics statement: mq_topics (configuration, pause state) and mq_metrics (rates),
/// whichever of them the role may call. `exact` selects one topic ($1) instead of a page of
/// those whose name contains $1.
fn topics_sql(with_topics: bool, with_metrics: bool, exact: bool) -> String {
    let name = match (with_topics, with_metrics) {
        (true, true) => "coalesce(t.topic, m.topic)",
        (true, false) => "t.topic",
        _ => "m.topic",
    };
    let topic_cols = if with_topics {
        "t.paused, t.description, t.created_at, t.dead_letters,"
    } else {
        "NULL::boolean AS paused, NULL::text AS description, NULL::timestamptz AS created_at, NULL::bigint AS dead_letters,"
    };
    let gauge = |col: &str| match (with_topics, with_metrics) {
        (true, true) => format!("coalesce(t.{col}, m.{col}, 0) AS {col}"),
        (true, false) => format!("coalesce(t.{col}, 0) AS {col}"),
        _ => format!("coalesce(m.{col}, 0) AS {col}"),
    };
    let metric_cols = if with_metrics {
        "m.consumed_total, m.failed_total, m.dead_letter_total, m.consume_rate, m.failure_rate, \
         m.dlq_rate, m.success_ratio, \
         extract(epoch FROM m.oldest_pending_age)::float8 AS oldest_pending_age_seconds"
    } else {
        "NULL::bigint AS consumed_total, NULL::bigint AS failed_total, NULL::bigint AS dead_letter_total, \
         NULL::float8 AS consume_rate, NULL::float8 AS failure_rate, NULL::float8 AS dlq_rate, \
         NULL::float8 AS success_ratio, NULL::float8 AS oldest_pending_age_seconds"
    };
    // mq_metrics has a row per topic and consumer group: a topic's line adds its groups up
    // (as mq_topics' gauges do), so that a topic is listed once however many groups it has.
    let per_topic = format!(
        "(SELECT topic, sum(pending)::bigint AS pending, sum(delayed)::bigint AS delayed, \
                 sum(processing)::bigint AS processing, \
                 sum(consumed_total)::bigint AS consumed_total, \
                 sum(failed_total)::bigint AS failed_total, \
                 sum(dead_letter_total)::bigint AS dead_letter_total, \
                 sum(consume_rate) AS consume_rate, sum(failure_rate) AS failure_rate, \
                 sum(dlq_rate) AS dlq_rate, \
                 CASE WHEN sum(consume_rate) + sum(failure_rate) > 0 \
                      THEN sum(consume_rate) / (sum(consume_rate) + sum(failure_rate)) END \
                     AS success_ratio, \
                 max(oldest_pending_age) AS oldest_pending_age \
          FROM mq_metrics('{RATE_WINDOW}') GROUP BY topic) m"
    );
    let from = match (with_topics, with_metrics) {
        (true, true) => format!("mq_topics() t FULL JOIN {per_topic} ON m.topic = t.topic"),
        (true, false) => "mq_topics() t".to_owned(),
        _ => per_topic,
    };
    let (filter, paging) = if exact {
        (format!("{name} = $1::text"), String::new())
    } else {
        (
            format!("($1::text IS NULL OR strpos({name}, $1::text) > 0)"),
            " LIMIT $2::bigint OFFSET $3::bigint".to_owned(),
        )
    };
    format!(
        "SELECT row_to_json(r)::text FROM (\
           SELECT {name} AS topic, {topic_cols} {pending}, {delayed}, {processing}, {metric_cols}, \
                  count(*) OVER () AS total_rows \
           FROM {from} WHERE {filter} ORDER BY 1{paging}) r",
        pending = gauge("pending"),
        delayed = gauge("delayed"),
        processing = gauge("processing"),
    )
}

fn topic_sources(catalog: &Catalog) -> Result<(bool, bool), AppError> {
    let with_topics = catalog.can("mq_topics");
    let with_metrics = catalog.can("mq_metrics");
    if !with_topics && !with_metrics {
        return Err(if catalog.has("mq_metrics") {
            catalog.require("mq_metrics").unwrap_err()
        } else {
            AppError::missing("mq_metrics")
        });
    }
    Ok((with_topics, with_metrics))
}

/// A page of topics whose name contains `search` (all when None).
pub async fn topics(
    client: &Client,
    catalog: &Catalog,
    search: Option<&str>,
    paging: Paging,
) -> Result<TopicList, AppError> {
    let (t, m) = topic_sources(catalog)?;
    let sql = topics_sql(t, m, false);
    let limit = i64::from(paging.page_size);
    let offset = paging.offset();
    let rows = json_rows(client, &sql, &[&search, &limit, &offset]).await?;
    let total = rows
        .first()
        .and_then(|r| r.get_i64("total_rows"))
        .unwrap_or(0);
    Ok(TopicList {
        topics: rows.iter().map(typed).collect::<Result<_, _>>()?,
        total,
    })
}

/// One topic's line of the overview, if pg_mq knows the topic.
pub async fn topic(
    client: &Client,
    catalog: &Catalog,
    topic: &str,
) -> Result<Option<TopicRow>, AppError> {
    let (t, m) = topic_sources(catalog)?;
    let sql = topics_sql(t, m, true);
    let rows = json_rows(client, &sql, &[&topic]).await?;
    rows.first().map(typed).transpose()
}

const TOPIC_CONFIG: &str = "SELECT row_to_json(c)::text FROM mq_topic_config($1::text) c LIMIT 501";

/// Configuration of a topic, each value with its source (argument, topic, server).
pub async fn topic_config(
    client: &Client,
    catalog: &Catalog,
    topic: &str,
) -> Result<Capped, AppError> {
    catalog.require("mq_topic_config")?;
    Ok(capped(json_rows(client, TOPIC_CONFIG, &[&topic]).await?))
}

const SUBSCRIPTIONS: &str =
    "SELECT row_to_json(s)::text FROM mq_subscriptions(NULL::text) s LIMIT 501";

/// Every consumer group's subscriptions, with their queue figures.
pub async fn subscriptions(client: &Client, catalog: &Catalog) -> Result<Capped, AppError> {
    catalog.require("mq_subscriptions")?;
    Ok(capped(json_rows(client, SUBSCRIPTIONS, &[]).await?))
}

const BLOCKED_KEYS: &str =
    "SELECT row_to_json(b)::text FROM mq_blocked_keys($1::text, NULL::text) b LIMIT 501";

/// Ordering keys of a topic whose head message holds the rest back.
pub async fn blocked_keys(
    client: &Client,
    catalog: &Catalog,
    topic: &str,
) -> Result<Capped, AppError> {
    catalog.require("mq_blocked_keys")?;
    Ok(capped(json_rows(client, BLOCKED_KEYS, &[&topic]).await?))
}

const PAUSE: &str = "SELECT mq_pause($1::text)";
const PAUSE_GROUP: &str = "SELECT mq_pause($1::text, consumer_group => $2::text)";
const RESUME: &str = "SELECT mq_resume($1::text)";
const RESUME_GROUP: &str = "SELECT mq_resume($1::text, consumer_group => $2::text)";

/// Whether the installed mq_pause and mq_resume can pause one consumer group of a topic.
pub fn pause_takes_group(catalog: &Catalog) -> bool {
    ["mq_pause", "mq_resume"]
        .iter()
        .all(|f| catalog.args(f).iter().any(|a| a == "consumer_group"))
}

/// Pauses (or with `pause` false resumes) a topic, or one consumer group of it. Returns
/// what pg_mq returns: whether anything changed.
pub async fn set_paused(
    client: &Client,
    catalog: &Catalog,
    topic: &str,
    group: Option<&str>,
    pause: bool,
) -> Result<bool, AppError> {
    let function = if pause { "mq_pause" } else { "mq_resume" };
    catalog.require(function)?;
    let row = match group {
        None => {
            client
                .query_one(if pause { PAUSE } else { RESUME }, &[&topic])
                .await?
        }
        Some(_) if !pause_takes_group(catalog) => {
            return Err(AppError::BadRequest(format!(
                "{function} of one consumer group is not available in this pg_mq version"
            )))
        }
        Some(group) => {
            client
                .query_one(
                    if pause { PAUSE_GROUP } else { RESUME_GROUP },
                    &[&topic, &group],
                )
                .await?
        }
    };
    Ok(row.try_get::<_, Option<bool>>(0)?.unwrap_or(false))
}

/// The columns of the message list (the payload cut short). Columns that newer pg_mq
/// versions add to mq.messages are read through to_jsonb, which gives NULL while they do not
/// exist.
const MESSAGE_COLUMNS: &str = "\
m.id, m.topic, m.status, m.priority, m.retry_count, m.max_retries, \
j.row->>'ordering_key' AS ordering_key, j.row->>'dedup_key' AS dedup_key, \
m.trace_id, m.consumer_id, left(m.last_error, 200) AS last_error, \
left(m.payload::text, 200) AS payload, coalesce(m.next_retry_at, m.execute_at) AS due_at, \
m.created_at, m.updated_at";

/// The message-list statement for the arguments the installed mq_messages takes: every
/// filter it supports is passed by name (NULL when not set), in the order of
/// [`MESSAGE_FILTERS`]; $1 is the topic, the last two are page and page size.
pub fn messages_sql(supported: &[String]) -> (String, Vec<usize>) {
    let mut args = vec!["topic => $1::text".to_owned()];
    let mut used = Vec::new();
    for (i, def) in MESSAGE_FILTERS.iter().enumerate() {
        if supported.iter().any(|a| a == def.arg) {
            used.push(i);
            args.push(format!(
                "{} => ${}::text::{}",
                def.arg,
                used.len() + 1,
                def.sql_type.cast()
            ));
        }
    }
    let n = used.len() + 1;
    args.push(format!("page => ${}::int", n + 1));
    args.push(format!("page_size => ${}::int", n + 2));
    let sql = format!(
        "SELECT row_to_json(r)::text FROM (SELECT {MESSAGE_COLUMNS} \
         FROM mq_messages({}) m CROSS JOIN LATERAL (SELECT to_jsonb(m) AS row) j) r",
        args.join(", ")
    );
    (sql, used)
}

const MESSAGE_BY_ID: &str = "\
SELECT row_to_json(r)::text FROM (SELECT m.*, coalesce(m.next_retry_at, m.execute_at) AS due_at \
FROM mq.messages m WHERE m.id = $1::bigint) r";

/// A page of a topic's messages. With an id filter, that message alone (if it is in the
/// topic). Filters the installed mq_messages lacks are refused (400).
pub async fn messages(
    client: &Client,
    catalog: &Catalog,
    topic: &str,
    filter: &MessageFilter,
) -> Result<Vec<Row>, AppError> {
    if let Some(id) = filter.id {
        return Ok(message(client, catalog, id)
            .await?
            .filter(|m| m.get_str("topic") == Some(topic))
            .map(|m| {
                let keep: Vec<&str> = MESSAGE_COLUMNS_NAMES.to_vec();
                Row(m
                    .0
                    .into_iter()
                    .filter(|(k, _)| keep.contains(&k.as_str()))
                    .map(|(k, v)| match (k.as_str(), v) {
                        ("payload", v) => {
                            let text = v.to_string();
                            let cut: String = text.chars().take(200).collect();
                            (k, Value::String(cut))
                        }
                        (_, v) => (k, v),
                    })
                    .collect())
            })
            .into_iter()
            .collect());
    }
    catalog.require("mq_messages")?;
    let supported = catalog.args("mq_messages");
    let missing = filter.unsupported(supported);
    if !missing.is_empty() {
        return Err(AppError::BadRequest(format!(
            "filter {} is not available in this pg_mq version",
            missing.join(", ")
        )));
    }
    let (sql, used) = messages_sql(supported);
    let values: Vec<Option<&str>> = used.iter().map(|i| filter.values[*i].as_deref()).collect();
    let page = filter.paging.page;
    let size = filter.paging.page_size;
    let mut params: Vec<Param<'_>> = vec![&topic];
    for v in &values {
        params.push(v);
    }
    params.push(&page);
    params.push(&size);
    json_rows(client, &sql, &params).await
}

/// The column names of [`MESSAGE_COLUMNS`], for a message looked up by id.
const MESSAGE_COLUMNS_NAMES: &[&str] = &[
    "id",
    "topic",
    "status",
    "priority",
    "retry_count",
    "max_retries",
    "ordering_key",
    "dedup_key",
    "trace_id",
    "consumer_id",
    "last_error",
    "payload",
    "due_at",
    "created_at",
    "updated_at",
];

/// A message by id: every column of mq.messages. pg_mq has no function that finds one
/// message by id (mq_messages filters by topic, status and trace id), so this reads the
/// table, which the admin capability may.
pub async fn message(client: &Client, catalog: &Catalog, id: i64) -> Result<Option<Row>, AppError> {
    if !catalog.messages_readable {
        return Err(AppError::Forbidden(format!(
            "role {} may not read messages (the admin capability can)",
            catalog.user
        )));
    }
    Ok(json_rows(client, MESSAGE_BY_ID, &[&id])
        .await?
        .into_iter()
        .next())
}

const TRACE: &str = "\
SELECT row_to_json(r)::text FROM (SELECT t.*, extract(epoch FROM t.created_at)::float8 AS at_epoch \
FROM mq_trace($1::text::uuid) t) r LIMIT 1001";

const MESSAGE_TRACES: &str = "\
SELECT row_to_json(r)::text FROM (SELECT t.event, t.message_id, t.topic, t.detail, t.created_at, \
extract(epoch FROM t.created_at)::float8 AS at_epoch \
FROM mq_traces(message_id => $1::bigint, page => 1, page_size => 500) t ORDER BY t.id) r";

/// The trace of a message: the whole chain of its trace id (across replays) from mq_trace,
/// or, where the role may not call it, the message's own rows from mq_traces.
pub async fn trace(
    client: &Client,
    catalog: &Catalog,
    trace_id: &str,
    message_id: i64,
) -> Result<Capped, AppError> {
    if catalog.can("mq_trace") {
        let mut c = capped(json_rows(client, TRACE, &[&trace_id]).await?);
        c.truncated |= c.rows.len() as i64 >= ROW_CAP;
        return Ok(c);
    }
    catalog.require("mq_traces")?;
    Ok(capped(
        json_rows(client, MESSAGE_TRACES, &[&message_id]).await?,
    ))
}

const DEAD_LETTERS: &str = "\
SELECT row_to_json(r)::text FROM (SELECT d.id, d.original_id, d.topic, d.error_message, d.retry_count, \
d.created_at, left(d.payload::text, 200) AS payload, d.replayed, d.replayed_at, d.replayed_message_id, \
d.trace_id \
FROM mq_dead_letters(topic => $1::text, replayed => $2::boolean, page => $3::int, page_size => $4::int) d) r";

/// A page of dead letters.
pub async fn dead_letters(
    client: &Client,
    catalog: &Catalog,
    topic: Option<&str>,
    replayed: Option<bool>,
    paging: Paging,
) -> Result<Vec<Row>, AppError> {
    catalog.require("mq_dead_letters")?;
    json_rows(
        client,
        DEAD_LETTERS,
        &[&topic, &replayed, &paging.page, &paging.page_size],
    )
    .await
}

const REPLAY_CANDIDATES: &str = "\
SELECT d.id FROM mq_dead_letters(topic => $1::text, replayed => false, page => 1, page_size => $2::int) d";

const REPLAY_BATCH_SQL: &str = "SELECT count(*) FROM mq_replay_batch($1::bigint[])";

/// Replays dead letters `ids` (those already replayed are skipped); returns how many were.
pub async fn replay(client: &Client, catalog: &Catalog, ids: &[i64]) -> Result<i64, AppError> {
    catalog.require("mq_replay_batch")?;
    let mut replayed = 0;
    for chunk in ids.chunks(REPLAY_BATCH as usize) {
        let row = client.query_one(REPLAY_BATCH_SQL, &[&chunk]).await?;
        replayed += row.try_get::<_, i64>(0)?;
    }
    Ok(replayed)
}

/// Replays every dead letter not yet replayed of `topic` (None: of every topic), a batch
/// of [`REPLAY_BATCH`] per statement, until none is left (or a batch replays nothing, when
/// others replay the same ones at once). Returns how many were replayed.
pub async fn replay_matching(
    client: &Client,
    catalog: &Catalog,
    topic: Option<&str>,
) -> Result<i64, AppError> {
    catalog.require("mq_dead_letters")?;
    catalog.require("mq_replay_batch")?;
    let mut replayed = 0;
    loop {
        let ids: Vec<i64> = client
            .query(REPLAY_CANDIDATES, &[&topic, &REPLAY_BATCH])
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        if ids.is_empty() {
            return Ok(replayed);
        }
        let row = client.query_one(REPLAY_BATCH_SQL, &[&ids]).await?;
        let n: i64 = row.try_get(0)?;
        if n == 0 {
            return Ok(replayed);
        }
        replayed += n;
    }
}

const CONSUMERS: &str = "SELECT row_to_json(c)::text FROM mq_consumers($1::text) c LIMIT 501";

/// Consumers seen by pg_mq (of one topic, or all).
pub async fn consumers(
    client: &Client,
    catalog: &Catalog,
    topic: Option<&str>,
) -> Result<Capped, AppError> {
    catalog.require("mq_consumers")?;
    Ok(capped(json_rows(client, CONSUMERS, &[&topic]).await?))
}

const HEALTH: &str = "SELECT row_to_json(h)::text FROM mq_health() h LIMIT 501";

/// pg_mq's own health checks.
pub async fn health(client: &Client, catalog: &Catalog) -> Result<Capped, AppError> {
    catalog.require("mq_health")?;
    Ok(capped(json_rows(client, HEALTH, &[]).await?))
}

const DASHBOARD: &str = "SELECT mq_dashboard($1::text::interval, $2::text::interval)::text";

/// The mq_dashboard document for a window and step (constants of [`crate::filters::ChartWindow`]).
pub async fn dashboard(
    client: &Client,
    catalog: &Catalog,
    window: &str,
    step: &str,
) -> Result<Value, AppError> {
    catalog.require("mq_dashboard")?;
    let statement = client.prepare_cached(DASHBOARD).await?;
    let row = client.query_one(&statement, &[&window, &step]).await?;
    let text: Option<&str> = row.try_get(0)?;
    serde_json::from_str(text.unwrap_or("{}"))
        .map_err(|e| AppError::Internal(format!("unreadable mq_dashboard document: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_statements_for_each_source() {
        let both = topics_sql(true, true, false);
        assert!(both.contains("mq_topics() t FULL JOIN (SELECT topic"));
        assert!(
            both.contains("FROM mq_metrics('5 minutes') GROUP BY topic) m ON m.topic = t.topic")
        );
        assert!(both.contains("LIMIT $2::bigint OFFSET $3::bigint"));
        let metrics_only = topics_sql(false, true, true);
        assert!(!metrics_only.contains("mq_topics"));
        assert!(metrics_only.contains("m.topic = $1::text"));
        let topics_only = topics_sql(true, false, false);
        assert!(!topics_only.contains("mq_metrics"));
    }

    #[test]
    fn message_statement_passes_only_supported_filters() {
        let today: Vec<String> = ["topic", "status", "trace_id", "page", "page_size"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (sql, used) = messages_sql(&today);
        assert_eq!(used, [0, 1]);
        assert!(sql.contains(
            "mq_messages(topic => $1::text, status => $2::text::text, trace_id => $3::text::uuid, page => $4::int, page_size => $5::int)"
        ), "{sql}");
        let mut later = today.clone();
        later.push("headers".into());
        later.push("ordering_key".into());
        let (sql, used) = messages_sql(&later);
        assert_eq!(used, [0, 1, 2, 4]);
        assert!(
            sql.contains(
                "ordering_key => $4::text::text, headers => $5::text::jsonb, page => $6::int"
            ),
            "{sql}"
        );
    }

    #[test]
    fn every_message_column_has_a_name() {
        for name in MESSAGE_COLUMNS_NAMES {
            assert!(MESSAGE_COLUMNS.contains(name), "{name}");
        }
    }

    #[test]
    fn session_setup_is_milliseconds() {
        assert!(session_setup(Duration::from_secs(5)).starts_with("SET statement_timeout = 5000;"));
    }
}
