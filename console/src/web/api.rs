//! The JSON API for scripts (and the overview's live updates): the data of each page.

use axum::extract::{Path, RawQuery, State};
use axum::{Extension, Json};
use serde::Serialize;
use serde_json::{json, Value};

use crate::charts::ChartData;
use crate::error::AppError;
use crate::filters::valid_topic;
use crate::queries::{self, Capped, TopicRow};
use crate::rows::Row;

use super::data;
use super::pages::{params, path_id};
use super::{ApiError, Principal, Shared};

type ApiResult<T> = Result<Json<T>, ApiError>;

/// GET /api/topics: an array with one object per topic (`topic`, pending, delayed,
/// processing, rates, success ratio, oldest pending age, paused, ...). `q` filters by a part
/// of the name; `page` and `page_size` (at most 500) page through them.
pub async fn topics(
    State(state): State<Shared>,
    RawQuery(query): RawQuery,
) -> ApiResult<Vec<TopicRow>> {
    let params = params(&query);
    let catalog = state.db.catalog().await;
    let client = state.db.client().await?;
    Ok(Json(
        data::topic_list(&client, &catalog, &params).await?.topics,
    ))
}

/// GET /api/topics/{topic}: summary, configuration, subscriptions, blocked keys and a page
/// of messages (filters as on the page). Each part is `{"state": "ready", "data": ...}` or
/// says why it is missing (`unavailable`, `denied`, `error`).
pub async fn topic(
    State(state): State<Shared>,
    Path(topic): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<data::Topic> {
    if !valid_topic(&topic) {
        return Err(AppError::NotFound(format!("no topic {topic:?}")).into());
    }
    let params = params(&query);
    let catalog = state.db.catalog().await;
    let client = state.db.client().await?;
    Ok(Json(data::topic(&client, &catalog, &topic, &params).await?))
}

/// GET /api/messages/{id}: the message (every column), payload, headers and trace.
pub async fn message(
    State(state): State<Shared>,
    Path(id): Path<String>,
) -> ApiResult<data::Message> {
    let id = path_id(&id)?;
    let catalog = state.db.catalog().await;
    let client = state.db.client().await?;
    Ok(Json(data::message(&client, &catalog, id).await?))
}

/// GET /api/dead-letters?topic=&replayed=no|yes|any&page=&page_size=: an array of dead letters.
pub async fn dead_letters(
    State(state): State<Shared>,
    RawQuery(query): RawQuery,
) -> ApiResult<Vec<Row>> {
    let params = params(&query);
    let catalog = state.db.catalog().await;
    let client = state.db.client().await?;
    let d = data::dead_letters(&client, &catalog, &params).await?;
    match d.rows {
        super::Section::Ready { data } => Ok(Json(data)),
        other => Err(section_error(other).into()),
    }
}

fn section_error<T>(s: super::Section<T>) -> AppError {
    match s {
        super::Section::Ready { .. } => AppError::Internal("unexpected".to_owned()),
        super::Section::Unavailable { message } => AppError::Unavailable(message),
        super::Section::Denied { message } => AppError::Forbidden(message),
        super::Section::Error { message } => AppError::Internal(message),
    }
}

/// GET /api/consumers?topic=: an array, one object per consumer, columns as mq_consumers has them.
pub async fn consumers(
    State(state): State<Shared>,
    RawQuery(query): RawQuery,
) -> ApiResult<Capped> {
    let params = params(&query);
    let catalog = state.db.catalog().await;
    let client = state.db.client().await?;
    let c = data::consumers(&client, &catalog, &params).await?;
    match c.consumers {
        super::Section::Ready { data } => Ok(Json(data)),
        other => Err(section_error(other).into()),
    }
}

#[derive(Debug, Serialize)]
pub struct HealthBody {
    overall: Option<String>,
    checks: Vec<Row>,
}

/// GET /api/health: `{"overall": "ok|warn|critical", "checks": [...]}` from mq_health.
pub async fn health(State(state): State<Shared>) -> ApiResult<HealthBody> {
    let catalog = state.db.catalog().await;
    let client = state.db.client().await?;
    let h = data::health(&client, &catalog).await;
    match h.checks {
        super::Section::Ready { data } => Ok(Json(HealthBody {
            overall: h.overall,
            checks: data.rows,
        })),
        other => Err(section_error(other).into()),
    }
}

/// GET /api/groups: consumer groups and their subscriptions (mq_subscriptions).
pub async fn groups(State(state): State<Shared>) -> ApiResult<Capped> {
    let catalog = state.db.catalog().await;
    let client = state.db.client().await?;
    Ok(Json(queries::subscriptions(&client, &catalog).await?))
}

/// GET /api/charts?window=1h|1d|1w: the overview's charts from mq_dashboard.
pub async fn charts(
    State(state): State<Shared>,
    RawQuery(query): RawQuery,
) -> ApiResult<std::sync::Arc<ChartData>> {
    let params = params(&query);
    let catalog = state.db.catalog().await;
    Ok(Json(data::charts(&state, &catalog, &params).await?))
}

/// GET /api/me: the database role and what it may do.
pub async fn me(
    State(state): State<Shared>,
    Extension(principal): Extension<Principal>,
) -> Json<Value> {
    let catalog = state.db.catalog().await;
    let mut functions: Vec<(&String, bool)> = catalog
        .functions
        .iter()
        .map(|(name, f)| (name, f.executable))
        .collect();
    functions.sort();
    let missing: Vec<&str> = queries::FUNCTIONS
        .iter()
        .copied()
        .filter(|f| !catalog.has(f))
        .collect();
    Json(json!({
        "user": catalog.user,
        "role": catalog.role_kind(),
        "can_replay": catalog.can_replay(),
        "can_pause": catalog.can_pause(),
        "messages_readable": catalog.messages_readable,
        "executable": functions.iter().filter(|(_, e)| *e).map(|(n, _)| n).collect::<Vec<_>>(),
        "missing_functions": missing,
        "auth": match principal { Principal::Bearer => "bearer", Principal::Session(_) => "session" },
        "database_error": catalog.error,
    }))
}
