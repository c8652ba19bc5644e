//! What each page shows, loaded from the database. The HTML page and its `/api/` twin share
//! these loaders: the page renders the value, the API returns it as JSON.

use serde::Serialize;
use serde_json::Value;

use crate::charts::{self, ChartData};
use crate::db::Catalog;
use crate::error::AppError;
use crate::filters::{
    pattern_matches, ChartWindow, DeadLetterFilter, MessageFilter, Paging, Params,
};
use crate::queries::{self, Capped, TopicList, TopicRow};
use crate::rows::Row;

use super::Section;

type Client = deadpool_postgres::Object;

#[derive(Debug, Serialize)]
pub struct Overview {
    pub search: Option<String>,
    pub paging: Paging,
    pub topics: Section<TopicList>,
    pub groups: Section<Capped>,
}

pub async fn overview(
    client: &Client,
    catalog: &Catalog,
    params: &Params,
) -> Result<Overview, AppError> {
    let search = params.get("q").map(str::to_owned);
    if search.as_ref().is_some_and(|s| s.len() > 255) {
        return Err(AppError::BadRequest(
            "parameter \"q\": longer than a topic can be".to_owned(),
        ));
    }
    let paging = Paging::parse(params, 100)?;
    let (topics, groups) = tokio::join!(
        queries::topics(client, catalog, search.as_deref(), paging),
        queries::subscriptions(client, catalog),
    );
    Ok(Overview {
        search,
        paging,
        topics: topics.into(),
        groups: groups.into(),
    })
}

pub async fn topic_list(
    client: &Client,
    catalog: &Catalog,
    params: &Params,
) -> Result<TopicList, AppError> {
    let search = params.get("q");
    let paging = Paging::parse(params, queries::ROW_CAP as i32)?;
    queries::topics(client, catalog, search, paging).await
}

#[derive(Debug, Serialize)]
pub struct Topic {
    pub topic: String,
    pub summary: Section<Option<TopicRow>>,
    pub config: Section<Capped>,
    pub subscriptions: Section<Capped>,
    pub blocked_keys: Section<Capped>,
    pub messages: Section<Vec<Row>>,
    #[serde(skip)]
    pub filter: MessageFilter,
}

pub async fn topic(
    client: &Client,
    catalog: &Catalog,
    topic: &str,
    params: &Params,
) -> Result<Topic, AppError> {
    let filter = MessageFilter::parse(params)?;
    let (summary, config, subscriptions, blocked_keys, messages) = tokio::join!(
        queries::topic(client, catalog, topic),
        queries::topic_config(client, catalog, topic),
        queries::subscriptions(client, catalog),
        queries::blocked_keys(client, catalog, topic),
        queries::messages(client, catalog, topic, &filter),
    );
    // A filter the installed pg_mq lacks, or a bad value, fails the request.
    if let Err(e @ AppError::BadRequest(_)) = &messages {
        return Err(e.clone());
    }
    let no_filter = filter.values.iter().all(Option::is_none) && filter.id.is_none();
    let known = matches!(&summary, Ok(Some(_)))
        || matches!(&messages, Ok(m) if !m.is_empty())
        || matches!(&config, Ok(c) if !c.rows.is_empty());
    let unknowable = summary.is_err() && messages.is_err();
    if no_filter && filter.paging.page == 1 && !known && !unknowable {
        return Err(AppError::NotFound(format!("pg_mq knows no topic {topic}")));
    }
    let subscriptions = subscriptions.map(|c| Capped {
        rows: c
            .rows
            .into_iter()
            .filter(|r| {
                r.get_str("topic_pattern")
                    .is_none_or(|p| pattern_matches(p, topic))
            })
            .collect(),
        truncated: c.truncated,
    });
    Ok(Topic {
        topic: topic.to_owned(),
        summary: summary.into(),
        config: config.into(),
        subscriptions: subscriptions.into(),
        blocked_keys: blocked_keys.into(),
        messages: messages.into(),
        filter,
    })
}

/// A dead letter of a message, found in its trace.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DeadLetterRef {
    pub id: i64,
    pub replayed: bool,
}

#[derive(Debug, Serialize)]
pub struct Message {
    pub id: i64,
    /// Every column but payload and headers.
    pub message: Row,
    pub payload: Value,
    pub headers: Value,
    pub trace: Section<Capped>,
    pub dead_letter: Option<DeadLetterRef>,
}

/// The dead letter `message_id` became, from the trace: DEAD_LETTERED names it, a later
/// REPLAYED with the same dead_letter_id means it was replayed.
pub fn dead_letter_of(trace: &[Row], message_id: i64) -> Option<DeadLetterRef> {
    let dead_letter_id = |r: &Row| {
        r.get("detail")
            .and_then(|d| d.get("dead_letter_id"))
            .and_then(Value::as_i64)
    };
    let id = trace
        .iter()
        .filter(|r| {
            r.get_str("event") == Some("DEAD_LETTERED")
                && r.get_i64("message_id") == Some(message_id)
        })
        .filter_map(dead_letter_id)
        .next_back()?;
    let replayed = trace
        .iter()
        .any(|r| r.get_str("event") == Some("REPLAYED") && dead_letter_id(r) == Some(id));
    Some(DeadLetterRef { id, replayed })
}

pub async fn message(client: &Client, catalog: &Catalog, id: i64) -> Result<Message, AppError> {
    let row = queries::message(client, catalog, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no message {id}")))?;
    let trace_id = row.get_str("trace_id").unwrap_or_default().to_owned();
    let trace: Result<Capped, AppError> = if trace_id.is_empty() {
        Ok(Capped::default())
    } else {
        queries::trace(client, catalog, &trace_id, id).await
    };
    let dead_letter = trace
        .as_ref()
        .ok()
        .and_then(|t| dead_letter_of(&t.rows, id));
    Ok(Message {
        id,
        payload: row.get("payload").cloned().unwrap_or(Value::Null),
        headers: row.get("headers").cloned().unwrap_or(Value::Null),
        message: row.without(&["payload", "headers"]),
        trace: trace.into(),
        dead_letter,
    })
}

#[derive(Debug, Serialize)]
pub struct DeadLetters {
    pub topic: Option<String>,
    pub replayed: &'static str,
    pub paging: Paging,
    pub rows: Section<Vec<Row>>,
}

pub async fn dead_letters(
    client: &Client,
    catalog: &Catalog,
    params: &Params,
) -> Result<DeadLetters, AppError> {
    let filter = DeadLetterFilter::parse(params)?;
    let rows = queries::dead_letters(
        client,
        catalog,
        filter.topic.as_deref(),
        filter.replayed,
        filter.paging,
    )
    .await;
    Ok(DeadLetters {
        replayed: filter.replayed_param(),
        topic: filter.topic,
        paging: filter.paging,
        rows: rows.into(),
    })
}

#[derive(Debug, Serialize)]
pub struct Consumers {
    pub topic: Option<String>,
    pub consumers: Section<Capped>,
}

pub async fn consumers(
    client: &Client,
    catalog: &Catalog,
    params: &Params,
) -> Result<Consumers, AppError> {
    let topic = params
        .get("topic")
        .map(|t| crate::filters::parse_topic("topic", t))
        .transpose()?;
    let consumers = queries::consumers(client, catalog, topic.as_deref()).await;
    Ok(Consumers {
        topic,
        consumers: consumers.into(),
    })
}

#[derive(Debug, Serialize)]
pub struct Health {
    /// The worst status of all checks (ok, warn, critical), if any check ran.
    pub overall: Option<String>,
    pub checks: Section<Capped>,
}

/// The worst of the checks' statuses.
pub fn worst_status(rows: &[Row]) -> Option<String> {
    let rank = |s: &str| match s {
        "ok" => 0,
        "warn" | "warning" => 1,
        "critical" => 2,
        _ => 1,
    };
    rows.iter()
        .filter_map(|r| r.get_str("status"))
        .max_by_key(|s| rank(s))
        .map(str::to_owned)
}

pub async fn health(client: &Client, catalog: &Catalog) -> Health {
    let checks = queries::health(client, catalog).await;
    Health {
        overall: checks.as_ref().ok().and_then(|c| worst_status(&c.rows)),
        checks: checks.into(),
    }
}

/// The overview's charts of a window. mq_dashboard's document holds every topic at every
/// point (megabytes with a thousand topics, and a second to build), so the shaped charts are
/// shared by all viewers for a while ([`ChartWindow::cache_ttl`]).
pub async fn charts(
    state: &super::AppState,
    catalog: &Catalog,
    params: &Params,
) -> Result<std::sync::Arc<ChartData>, AppError> {
    let window = ChartWindow::parse(params.get("window"))?;
    catalog.require("mq_dashboard")?;
    state
        .charts
        .get_or_load(window.name(), window.cache_ttl(), || async {
            let (interval, step) = window.interval_and_step();
            let client = state.db.client().await?;
            let doc = queries::dashboard(&client, catalog, interval, step).await?;
            Ok(charts::shape(&doc, window))
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::parse_row;

    #[test]
    fn dead_letter_is_found_in_the_trace() {
        let trace: Vec<Row> = [
            r#"{"event": "PUBLISHED", "message_id": 4, "detail": {}}"#,
            r#"{"event": "DEAD_LETTERED", "message_id": 4, "detail": {"dead_letter_id": 1}}"#,
            r#"{"event": "REPLAYED", "message_id": 5, "detail": {"dead_letter_id": 1, "original_id": 4}}"#,
            r#"{"event": "DEAD_LETTERED", "message_id": 5, "detail": {"dead_letter_id": 2}}"#,
        ]
        .iter()
        .map(|t| parse_row(t).unwrap())
        .collect();
        assert_eq!(
            dead_letter_of(&trace, 4),
            Some(DeadLetterRef {
                id: 1,
                replayed: true
            })
        );
        assert_eq!(
            dead_letter_of(&trace, 5),
            Some(DeadLetterRef {
                id: 2,
                replayed: false
            })
        );
        assert_eq!(dead_letter_of(&trace, 6), None);
    }

    #[test]
    fn health_takes_the_worst_status() {
        let rows: Vec<Row> = [
            r#"{"status": "ok"}"#,
            r#"{"status": "critical"}"#,
            r#"{"status": "warn"}"#,
        ]
        .iter()
        .map(|t| parse_row(t).unwrap())
        .collect();
        assert_eq!(worst_status(&rows).as_deref(), Some("critical"));
        assert_eq!(worst_status(&rows[..1]).as_deref(), Some("ok"));
        assert_eq!(worst_status(&[]), None);
    }
}
