//! The HTML pages.

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Extension;
use serde::Serialize;
use serde_json::Value;

use crate::auth;
use crate::error::AppError;
use crate::filters::{self, Params, MESSAGE_FILTERS};
use crate::queries::Capped;
use crate::rows::{cell, Cell, Row, Table};

use super::data;
use super::{render, session_of, Nav, PageError, Principal, Section, Shared};

pub fn params(query: &Option<String>) -> Params {
    Params::parse(query.as_deref().unwrap_or("").as_bytes())
}

/// A table of rows and whether the row cap cut it.
#[derive(Debug, Serialize)]
struct TableView {
    table: Table,
    truncated: bool,
}

fn table_view(c: &Capped) -> TableView {
    TableView {
        table: Table::from_rows(&c.rows),
        truncated: c.truncated,
    }
}

fn section_map<T, U>(s: &Section<T>, f: impl FnOnce(&T) -> U) -> Section<U> {
    match s {
        Section::Ready { data } => Section::Ready { data: f(data) },
        Section::Unavailable { message } => Section::Unavailable {
            message: message.clone(),
        },
        Section::Denied { message } => Section::Denied {
            message: message.clone(),
        },
        Section::Error { message } => Section::Error {
            message: message.clone(),
        },
    }
}

/// The query string of `params` with `page` set to `page` (for pager links).
pub fn with_page(params: &Params, page: i32) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params.pairs() {
        if k != "page" && k != "notice" && k != "count" && !v.is_empty() {
            out.append_pair(k, v);
        }
    }
    out.append_pair("page", &page.to_string());
    format!("?{}", out.finish())
}

#[derive(Debug, Serialize)]
struct Pager {
    page: i32,
    prev: Option<String>,
    next: Option<String>,
}

fn pager(params: &Params, page: i32, has_more: bool) -> Pager {
    Pager {
        page,
        prev: (page > 1).then(|| with_page(params, page - 1)),
        next: has_more.then(|| with_page(params, page + 1)),
    }
}

/// The notice after an action, from a fixed set (never request text shown as is).
fn notice(params: &Params) -> Option<String> {
    let count = params
        .get("count")
        .and_then(|c| c.parse::<i64>().ok())
        .unwrap_or(0);
    match params.get("notice")? {
        "replayed" => Some(format!(
            "Replayed {count} dead letter{}.",
            if count == 1 { "" } else { "s" }
        )),
        "paused" => Some("Paused.".to_owned()),
        "resumed" => Some("Resumed.".to_owned()),
        "unchanged" => Some("Nothing changed: it was already in that state.".to_owned()),
        _ => None,
    }
}

pub async fn overview(
    State(state): State<Shared>,
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
) -> Result<Html<String>, PageError> {
    let params = params(&query);
    let catalog = state.db.catalog().await;
    let nav = Nav::new(&state, &catalog, &principal, "overview");
    let client = state.db.client().await?;
    let o = data::overview(&client, &catalog, &params).await?;
    let total = o.topics.ready().map_or(0, |t| t.total);
    let shown_until = o.paging.offset() + i64::from(o.paging.page_size);
    let view = serde_json::json!({
        "search": o.search,
        "paging": o.paging,
        "topics": o.topics,
        "groups": section_map(&o.groups, table_view),
        "pager": pager(&params, o.paging.page, total > shown_until),
        "pause_available": catalog.has("mq_pause"),
        "api_query": with_page(&params, o.paging.page),
    });
    render("overview.html", &nav, view)
}

#[derive(Debug, Serialize)]
struct FilterField {
    param: &'static str,
    label: &'static str,
    value: String,
    available: bool,
    placeholder: &'static str,
}

/// A topic name from the path: one pg_mq cannot have is a 404.
fn path_topic(topic: &str) -> Result<String, AppError> {
    if filters::valid_topic(topic) {
        Ok(topic.to_owned())
    } else {
        Err(AppError::NotFound(
            "no such topic: a topic is 1 to 255 ASCII letters, digits and . _ - :".to_owned(),
        ))
    }
}

/// A message id from the path: anything but a positive number is a 404.
pub fn path_id(id: &str) -> Result<i64, AppError> {
    filters::parse_id(id).ok_or_else(|| AppError::NotFound(format!("no message {id:?}")))
}

fn messages_table(rows: &[Row]) -> TableView {
    let mut table = Table::from_rows(rows);
    // Columns empty in every row (e.g. ordering keys on a pg_mq without them) are left out.
    let keep: Vec<bool> = (0..table.columns.len())
        .map(|i| table.rows.iter().any(|r| r[i].class != "null"))
        .collect();
    let mut i = 0;
    table.columns.retain(|_| {
        i += 1;
        keep[i - 1]
    });
    for row in &mut table.rows {
        let mut j = 0;
        row.retain(|_| {
            j += 1;
            keep[j - 1]
        });
    }
    if let Some(idx) = table.columns.iter().position(|c| c == "id") {
        for row in &mut table.rows {
            let id = row[idx].text.clone();
            row[idx].href = Some(format!("/messages/{id}"));
        }
    }
    TableView {
        table,
        truncated: false,
    }
}

pub async fn topic(
    State(state): State<Shared>,
    Extension(principal): Extension<Principal>,
    Path(topic): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Html<String>, PageError> {
    let params = params(&query);
    let topic = path_topic(&topic)?;
    let catalog = state.db.catalog().await;
    let nav = Nav::new(&state, &catalog, &principal, "topic");
    let client = state.db.client().await?;
    let t = data::topic(&client, &catalog, &topic, &params).await?;
    let supported = catalog.args("mq_messages");
    let filters: Vec<FilterField> = MESSAGE_FILTERS
        .iter()
        .map(|def| FilterField {
            param: def.param,
            label: def.label,
            value: params.get(def.param).unwrap_or_default().to_owned(),
            available: supported.iter().any(|a| a == def.arg),
            placeholder: def.placeholder,
        })
        .collect();
    let page_full = t
        .messages
        .ready()
        .is_some_and(|m| m.len() as i32 >= t.filter.paging.page_size);
    let groups: Vec<String> = t
        .subscriptions
        .ready()
        .map(|c| {
            let mut g: Vec<String> = c
                .rows
                .iter()
                .filter_map(|r| r.get_str("consumer_group").map(str::to_owned))
                .collect();
            g.sort();
            g.dedup();
            g
        })
        .unwrap_or_default();
    let view = serde_json::json!({
        "topic": t.topic,
        "summary": t.summary,
        "paused": t.summary.ready().and_then(|s| s.as_ref()).and_then(|s| s.paused),
        "config": section_map(&t.config, table_view),
        "subscriptions": section_map(&t.subscriptions, table_view),
        "blocked_keys": section_map(&t.blocked_keys, table_view),
        "messages": section_map(&t.messages, |m| messages_table(m)),
        "filters": filters,
        "id_filter": params.get("id").unwrap_or_default(),
        "page_size": t.filter.paging.page_size,
        "pager": pager(&params, t.filter.paging.page, page_full),
        "pause_available": catalog.has("mq_pause") && catalog.has("mq_resume"),
        "can_pause": catalog.can_pause(),
        "groups": if crate::queries::pause_takes_group(&catalog) { groups } else { Vec::new() },
        "statuses": crate::filters::MESSAGE_STATUSES,
        "notice": notice(&params),
    });
    render("topic.html", &nav, view)
}

#[derive(Debug, Serialize)]
struct TimelineEvent {
    event: String,
    class: &'static str,
    /// ok, warn, critical or empty: the colour of the event's dot.
    tone: &'static str,
    message_id: Option<i64>,
    this_message: bool,
    at: String,
    at_full: String,
    offset: String,
    detail: String,
}

fn timeline(rows: &[Row], message_id: i64) -> Vec<TimelineEvent> {
    let first = rows
        .iter()
        .filter_map(|r| r.get("at_epoch").and_then(Value::as_f64))
        .next();
    rows.iter()
        .map(|r| {
            let event = r.get_str("event").unwrap_or("?").to_owned();
            let at_epoch = r.get("at_epoch").and_then(Value::as_f64);
            let offset = match (first, at_epoch) {
                (Some(f), Some(a)) => {
                    format!("+{}", crate::templates::format_age((a - f).max(0.0)))
                }
                _ => String::new(),
            };
            let at_full = r.get_str("created_at").unwrap_or_default().to_owned();
            let class = cell("event", &Value::String(event.clone())).class;
            TimelineEvent {
                class,
                tone: class.strip_prefix("badge").unwrap_or("").trim(),
                event,
                message_id: r.get_i64("message_id"),
                this_message: r.get_i64("message_id") == Some(message_id),
                at: crate::rows::display_string(&at_full),
                at_full,
                offset,
                detail: r
                    .get("detail")
                    .filter(|d| !d.is_null())
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
            }
        })
        .collect()
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

pub async fn message(
    State(state): State<Shared>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Html<String>, PageError> {
    let params = params(&query);
    let id = path_id(&id)?;
    let catalog = state.db.catalog().await;
    let nav = Nav::new(&state, &catalog, &principal, "message");
    let client = state.db.client().await?;
    let m = data::message(&client, &catalog, id).await?;
    let fields: Vec<(String, Cell)> = m
        .message
        .0
        .iter()
        .map(|(k, v)| (k.clone(), cell(k, v)))
        .collect();
    let view = serde_json::json!({
        "id": m.id,
        "topic": m.message.get_str("topic"),
        "status": m.message.get_str("status"),
        "fields": fields,
        "payload": pretty(&m.payload),
        "headers": (!m.headers.is_null()).then(|| pretty(&m.headers)),
        "trace": section_map(&m.trace, |c| serde_json::json!({
            "events": timeline(&c.rows, id),
            "truncated": c.truncated,
        })),
        "dead_letter": m.dead_letter,
        "can_replay": catalog.can_replay(),
        "notice": notice(&params),
    });
    render("message.html", &nav, view)
}

#[derive(Debug, Serialize)]
struct DeadLetterLine {
    id: i64,
    replayed: bool,
    cells: Vec<Cell>,
}

pub async fn dead_letters(
    State(state): State<Shared>,
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
) -> Result<Html<String>, PageError> {
    let params = params(&query);
    let catalog = state.db.catalog().await;
    let nav = Nav::new(&state, &catalog, &principal, "dead-letters");
    let client = state.db.client().await?;
    let d = data::dead_letters(&client, &catalog, &params).await?;
    let lines = section_map(&d.rows, |rows| {
        let table = Table::from_rows(rows);
        let lines: Vec<DeadLetterLine> = rows
            .iter()
            .zip(table.rows)
            .map(|(r, cells)| DeadLetterLine {
                id: r.get_i64("id").unwrap_or(0),
                replayed: r.get("replayed").and_then(Value::as_bool).unwrap_or(false),
                cells,
            })
            .collect();
        serde_json::json!({ "columns": table.columns, "lines": lines })
    });
    let page_full = d
        .rows
        .ready()
        .is_some_and(|r| r.len() as i32 >= d.paging.page_size);
    let view = serde_json::json!({
        "topic": d.topic,
        "replayed": d.replayed,
        "page_size": d.paging.page_size,
        "rows": lines,
        "pager": pager(&params, d.paging.page, page_full),
        "can_replay": catalog.can_replay(),
        "notice": notice(&params),
    });
    render("dead_letters.html", &nav, view)
}

pub async fn consumers(
    State(state): State<Shared>,
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
) -> Result<Html<String>, PageError> {
    let params = params(&query);
    let catalog = state.db.catalog().await;
    let nav = Nav::new(&state, &catalog, &principal, "consumers");
    let client = state.db.client().await?;
    let c = data::consumers(&client, &catalog, &params).await?;
    let view = serde_json::json!({
        "topic": c.topic,
        "consumers": section_map(&c.consumers, table_view),
    });
    render("consumers.html", &nav, view)
}

pub async fn health(
    State(state): State<Shared>,
    Extension(principal): Extension<Principal>,
) -> Result<Html<String>, PageError> {
    let catalog = state.db.catalog().await;
    let nav = Nav::new(&state, &catalog, &principal, "health");
    let client = state.db.client().await?;
    let h = data::health(&client, &catalog).await;
    let view = serde_json::json!({
        "overall": h.overall,
        "checks": section_map(&h.checks, table_view),
        "database_ok": true,
    });
    render("health.html", &nav, view)
}

pub async fn login_form(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = params(&query);
    let next = auth::safe_next(params.get("next"));
    if state.token.is_none() {
        return Redirect::to(&next).into_response();
    }
    let existing = session_of(&state, &headers);
    if existing.as_ref().is_some_and(|s| s.authenticated) {
        return Redirect::to(&next).into_response();
    }
    let (session, fresh) = match existing {
        Some(s) => (s, false),
        None => (state.sessions.create(false), true),
    };
    login_page(&state, &session, &next, None, fresh)
}

/// The login form for `session`; with `error` it answers 401.
pub fn login_page(
    state: &super::AppState,
    session: &auth::SessionView,
    next: &str,
    error: Option<&str>,
    set_cookie: bool,
) -> Response {
    let html = crate::templates::ENV
        .get_template("login.html")
        .and_then(|t| {
            t.render(minijinja::context! {
                csrf => session.csrf,
                next => next,
                error => error,
            })
        });
    let mut response = match html {
        Ok(html) => {
            let status = if error.is_some() {
                axum::http::StatusCode::UNAUTHORIZED
            } else {
                axum::http::StatusCode::OK
            };
            (status, Html(html)).into_response()
        }
        Err(e) => {
            PageError(AppError::Internal(format!("template login.html: {e:#}"))).into_response()
        }
    };
    if set_cookie {
        if let Ok(v) =
            HeaderValue::from_str(&auth::session_cookie(&session.id, state.cookie_secure))
        {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pager_links_keep_filters_and_drop_notices() {
        let p = Params::parse(b"status=PENDING&page=2&notice=paused&count=3&q=a%20b");
        assert_eq!(with_page(&p, 3), "?status=PENDING&q=a+b&page=3");
        let pg = pager(&p, 1, false);
        assert!(pg.prev.is_none() && pg.next.is_none());
        let pg = pager(&p, 2, true);
        assert_eq!(pg.prev.as_deref(), Some("?status=PENDING&q=a+b&page=1"));
    }

    #[test]
    fn notices_come_from_a_fixed_set() {
        assert_eq!(
            notice(&Params::parse(b"notice=replayed&count=2")).as_deref(),
            Some("Replayed 2 dead letters.")
        );
        assert_eq!(
            notice(&Params::parse(b"notice=replayed&count=1")).as_deref(),
            Some("Replayed 1 dead letter.")
        );
        assert_eq!(notice(&Params::parse(b"notice=<script>")), None);
    }

    #[test]
    fn path_ids_and_topics() {
        assert_eq!(path_id("12").unwrap(), 12);
        assert_eq!(
            path_id("abc").unwrap_err().status(),
            axum::http::StatusCode::NOT_FOUND
        );
        assert_eq!(
            path_id("-1").unwrap_err().status(),
            axum::http::StatusCode::NOT_FOUND
        );
        assert!(path_topic("bad topic").is_err());
        assert!(path_topic("good.topic").is_ok());
    }
}
