//! The POSTs: login and logout, pause and resume, replay. Every one behind the guard has
//! passed its CSRF check; each also checks that the role may do it (403 otherwise, and
//! PostgreSQL's own 42501 is a 403 too).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Json};
use serde_json::json;

use crate::auth;
use crate::error::AppError;
use crate::filters::{valid_topic, Params, ReplayRequest, ReplayTarget};
use crate::queries;

use super::pages::login_page;
use super::{
    render, session_of, FormParams, Nav, PageError, Principal, Shared, FAILED_LOGIN_DELAY,
};

/// POST /login: the token from the form, checked in constant time. The form's session (made
/// by GET /login) must send its CSRF token; a good token starts a new, logged-in session.
pub async fn login(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let params = Params::parse(&body);
    let next = auth::safe_next(params.get("next"));
    let Some(token) = &state.token else {
        return Redirect::to(&next).into_response();
    };
    let Some(session) = session_of(&state, &headers) else {
        return PageError(AppError::Forbidden(
            "the login form has expired: open /login again".to_owned(),
        ))
        .into_response();
    };
    if !auth::csrf_matches(&session, params.get("csrf")) {
        return PageError(AppError::Forbidden(
            "the login form's CSRF token is missing or wrong: open /login again".to_owned(),
        ))
        .into_response();
    }
    let given = params.get("token").unwrap_or_default();
    if !auth::constant_time_eq(given.as_bytes(), token.as_bytes()) {
        tokio::time::sleep(FAILED_LOGIN_DELAY).await;
        return login_page(
            &state,
            &session,
            &next,
            Some("That token is not right."),
            false,
        );
    }
    let fresh = state.sessions.login(Some(&session.id));
    let mut response = Redirect::to(&next).into_response();
    if let Ok(v) = HeaderValue::from_str(&auth::session_cookie(&fresh.id, state.cookie_secure)) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// POST /logout.
pub async fn logout(
    State(state): State<Shared>,
    Extension(principal): Extension<Principal>,
) -> Response {
    if let Principal::Session(s) = &principal {
        state.sessions.remove(&s.id);
    }
    let mut response =
        Redirect::to(if state.token.is_some() { "/login" } else { "/" }).into_response();
    if let Ok(v) = HeaderValue::from_str(&auth::clear_session_cookie(state.cookie_secure)) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// An action's error: JSON for scripts, a page for browsers.
fn action_error(principal: &Principal, e: AppError) -> Response {
    match principal {
        Principal::Bearer => super::ApiError(e).into_response(),
        Principal::Session(_) => PageError(e).into_response(),
    }
}

pub async fn pause(
    state: State<Shared>,
    principal: Extension<Principal>,
    topic: Path<String>,
    form: Extension<FormParams>,
) -> Response {
    set_paused(state, principal, topic, form, true).await
}

pub async fn resume(
    state: State<Shared>,
    principal: Extension<Principal>,
    topic: Path<String>,
    form: Extension<FormParams>,
) -> Response {
    set_paused(state, principal, topic, form, false).await
}

async fn set_paused(
    State(state): State<Shared>,
    Extension(principal): Extension<Principal>,
    Path(topic): Path<String>,
    Extension(FormParams(params)): Extension<FormParams>,
    pause: bool,
) -> Response {
    let result = async {
        if !valid_topic(&topic) {
            return Err(AppError::NotFound(format!("no topic {topic:?}")));
        }
        let group = params.get("consumer_group");
        if group.is_some_and(|g| g.len() > 255) {
            return Err(AppError::BadRequest(
                "parameter \"consumer_group\": longer than 255 bytes".to_owned(),
            ));
        }
        let catalog = state.db.catalog().await;
        catalog.require(if pause { "mq_pause" } else { "mq_resume" })?;
        let client = state.db.client().await?;
        queries::set_paused(&client, &catalog, &topic, group, pause).await
    }
    .await;
    match result {
        Err(e) => action_error(&principal, e),
        Ok(changed) => match principal {
            Principal::Bearer => {
                Json(json!({ "topic": topic, "paused": pause, "changed": changed })).into_response()
            }
            Principal::Session(_) => {
                let notice = match (changed, pause) {
                    (false, _) => "unchanged",
                    (true, true) => "paused",
                    (true, false) => "resumed",
                };
                Redirect::to(&format!("/topics/{topic}?notice={notice}")).into_response()
            }
        },
    }
}

/// POST /dead-letters/replay: one dead letter, the ticked ones, or all that match the filter.
/// Without `confirm=yes` it answers with a confirmation page; confirmed, it replays (in
/// batches of 500 for "all") and goes back to the list.
pub async fn replay(
    State(state): State<Shared>,
    Extension(principal): Extension<Principal>,
    Extension(FormParams(params)): Extension<FormParams>,
) -> Response {
    let result = async {
        let request = ReplayRequest::parse(&params)?;
        let catalog = state.db.catalog().await;
        if !catalog.can_replay() {
            return Err(if catalog.has("mq_replay_batch") {
                AppError::Forbidden(format!(
                    "role {} may not replay dead letters (the admin capability can)",
                    catalog.user
                ))
            } else {
                AppError::missing("mq_replay_batch")
            });
        }
        if !request.confirmed {
            if matches!(principal, Principal::Bearer) {
                return Err(AppError::BadRequest("add confirm=yes to replay".to_owned()));
            }
            let nav = Nav::new(&state, &catalog, &principal, "dead-letters");
            let (mode, ids, topic) = match &request.target {
                ReplayTarget::One(id) => ("one", vec![*id], None),
                ReplayTarget::Selected(ids) => ("selected", ids.clone(), None),
                ReplayTarget::AllMatching { topic } => ("all", vec![], topic.clone()),
            };
            let view = json!({
                "mode": mode,
                "ids": ids,
                "topic": topic,
                "back": params
                    .get("back")
                    .map_or_else(|| "/dead-letters".to_owned(), |b| auth::safe_next(Some(b))),
            });
            return Ok(ReplayOutcome::Confirm(
                render("confirm_replay.html", &nav, view).map_err(|e| e.0)?,
            ));
        }
        let client = state.db.client().await?;
        let (count, topic) = match &request.target {
            ReplayTarget::One(id) => (queries::replay(&client, &catalog, &[*id]).await?, None),
            ReplayTarget::Selected(ids) => (queries::replay(&client, &catalog, ids).await?, None),
            ReplayTarget::AllMatching { topic } => (
                queries::replay_matching(&client, &catalog, topic.as_deref()).await?,
                topic.clone(),
            ),
        };
        Ok(ReplayOutcome::Done { count, topic })
    }
    .await;
    match result {
        Err(e) => action_error(&principal, e),
        Ok(ReplayOutcome::Confirm(html)) => html.into_response(),
        Ok(ReplayOutcome::Done { count, topic }) => match principal {
            Principal::Bearer => Json(json!({ "replayed": count })).into_response(),
            Principal::Session(_) => {
                let mut query = form_urlencoded::Serializer::new(String::new());
                if let Some(t) = &topic {
                    query.append_pair("topic", t);
                }
                query.append_pair("notice", "replayed");
                query.append_pair("count", &count.to_string());
                Redirect::to(&format!("/dead-letters?{}", query.finish())).into_response()
            }
        },
    }
}

enum ReplayOutcome {
    Confirm(Html<String>),
    Done { count: i64, topic: Option<String> },
}
