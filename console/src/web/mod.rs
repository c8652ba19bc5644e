//! The HTTP side: routes, the login guard with its CSRF check, security headers, and the
//! conversion of errors into pages or JSON.

mod actions;
mod api;
mod assets;
mod data;
mod pages;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;

use crate::auth::{self, SessionStore, SessionView};
use crate::db::{Catalog, Db};
use crate::error::AppError;
use crate::filters::Params;
use crate::templates;

/// The largest form body accepted (a selection of many dead letters fits).
const MAX_FORM_BYTES: usize = 1 << 20;

pub struct AppState {
    pub db: Db,
    pub sessions: SessionStore,
    /// None: no login (the console then listens on loopback only).
    pub token: Option<String>,
    pub cookie_secure: bool,
    pub refresh_seconds: u32,
    /// Charts by window, shared by every viewer for [`crate::filters::ChartWindow::cache_ttl`].
    pub charts: crate::cache::TtlCache<crate::charts::ChartData>,
}

pub type Shared = Arc<AppState>;

/// Who is asking.
#[derive(Debug, Clone)]
pub enum Principal {
    /// A script with the bearer token.
    Bearer,
    /// A browser session (logged in, or any session when the console has no token).
    Session(SessionView),
}

impl Principal {
    pub fn csrf(&self) -> Option<&str> {
        match self {
            Principal::Bearer => None,
            Principal::Session(s) => Some(&s.csrf),
        }
    }
}

/// The parsed body of a POST, put there by the guard (which checked its CSRF token).
#[derive(Debug, Clone)]
pub struct FormParams(pub Params);

pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/", get(pages::overview))
        .route("/topics/{topic}", get(pages::topic))
        .route("/topics/{topic}/pause", post(actions::pause))
        .route("/topics/{topic}/resume", post(actions::resume))
        .route("/messages/{id}", get(pages::message))
        .route("/dead-letters", get(pages::dead_letters))
        .route("/dead-letters/replay", post(actions::replay))
        .route("/consumers", get(pages::consumers))
        .route("/health", get(pages::health))
        .route("/logout", post(actions::logout))
        .route("/api/topics", get(api::topics))
        .route("/api/topics/{topic}", get(api::topic))
        .route("/api/messages/{id}", get(api::message))
        .route("/api/dead-letters", get(api::dead_letters))
        .route("/api/consumers", get(api::consumers))
        .route("/api/health", get(api::health))
        .route("/api/groups", get(api::groups))
        .route("/api/charts", get(api::charts))
        .route("/api/me", get(api::me))
        .route_layer(middleware::from_fn_with_state(state.clone(), guard))
        .route("/login", get(pages::login_form).post(actions::login))
        .route("/healthz", get(healthz))
        .route("/static/{file}", get(assets::serve))
        .route("/favicon.ico", get(assets::favicon))
        .fallback(not_found)
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

async fn not_found(req: Request) -> Response {
    let e = AppError::NotFound(format!("no page at {}", req.uri().path()));
    if req.uri().path().starts_with("/api/") {
        ApiError(e).into_response()
    } else {
        PageError(e).into_response()
    }
}

/// `/healthz`: 200 "ok" when the database answers, 503 otherwise. No login.
async fn healthz(State(state): State<Shared>) -> Response {
    if state.db.ping().await {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
    }
}

fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// The session named by the request's cookie, if it is live.
pub fn session_of(state: &AppState, headers: &HeaderMap) -> Option<SessionView> {
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    let id = auth::cookie_value(cookies, auth::SESSION_COOKIE)?;
    state.sessions.get(id)
}

fn unauthorized(path: &str, method: &Method, target: &str) -> Response {
    if is_api(path) || method != Method::GET {
        let mut r = ApiError(AppError::Unauthorized).into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"mq-console\""),
        );
        return r;
    }
    let next: String = form_urlencoded::byte_serialize(target.as_bytes()).collect();
    Redirect::to(&format!("/login?next={next}")).into_response()
}

/// A POST from a page of another site, by its Origin header (browsers send one with every
/// POST). SameSite=Strict cookies already keep such requests out of a session; this is the
/// second lock.
fn foreign_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    origin != format!("http://{host}") && origin != format!("https://{host}")
}

/// Logs requests in: a bearer token, or a session cookie. A POST of a session must carry the
/// session's CSRF token (form field `csrf` or header `X-CSRF-Token`); its parsed body is
/// handed on as [`FormParams`].
async fn guard(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let target = req
        .uri()
        .path_and_query()
        .map_or_else(|| path.clone(), |pq| pq.as_str().to_owned());
    let method = req.method().clone();
    let headers = req.headers().clone();
    let mut new_session = None;

    let principal = match (&state.token, headers.get(header::AUTHORIZATION)) {
        (Some(token), Some(value)) => {
            let given = value.to_str().ok().and_then(auth::bearer_token);
            match given {
                Some(given) if auth::constant_time_eq(given.as_bytes(), token.as_bytes()) => {
                    Principal::Bearer
                }
                _ => return unauthorized(&path, &Method::POST, &target),
            }
        }
        (Some(_), None) => match session_of(&state, &headers) {
            Some(s) if s.authenticated => Principal::Session(s),
            _ => return unauthorized(&path, &method, &target),
        },
        // No token: loopback only, and every browser gets a session (for its CSRF token).
        (None, _) => match session_of(&state, &headers) {
            Some(s) => Principal::Session(s),
            None => {
                let s = state.sessions.create(true);
                new_session = Some(s.id.clone());
                Principal::Session(s)
            }
        },
    };

    let mut req = req;
    if method != Method::GET && method != Method::HEAD {
        let (parts, body) = req.into_parts();
        let bytes = match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
            Ok(b) => b,
            Err(_) => {
                return ApiError(AppError::BadRequest(format!(
                    "the request body is larger than {MAX_FORM_BYTES} bytes"
                )))
                .into_response()
            }
        };
        let params = Params::parse(&bytes);
        if let Principal::Session(session) = &principal {
            let submitted = params.get("csrf").map(str::to_owned).or_else(|| {
                parts
                    .headers
                    .get("x-csrf-token")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            });
            if foreign_origin(&parts.headers) || !auth::csrf_matches(session, submitted.as_deref())
            {
                let e = AppError::Forbidden(
                    "the form's CSRF token is missing or wrong: reload the page and try again"
                        .to_owned(),
                );
                return if is_api(&path) {
                    ApiError(e).into_response()
                } else {
                    PageError(e).into_response()
                };
            }
        }
        req = Request::from_parts(parts, Body::from(bytes));
        req.extensions_mut().insert(FormParams(params));
    }
    req.extensions_mut().insert(principal);
    let mut response = next.run(req).await;
    if let Some(id) = new_session {
        if let Ok(v) = HeaderValue::from_str(&auth::session_cookie(&id, state.cookie_secure)) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// A part of a page that may be missing (older pg_mq), forbidden (the role), or failed,
/// without failing the page.
#[derive(Debug, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Section<T> {
    Ready { data: T },
    Unavailable { message: String },
    Denied { message: String },
    Error { message: String },
}

impl<T> From<Result<T, AppError>> for Section<T> {
    fn from(r: Result<T, AppError>) -> Section<T> {
        match r {
            Ok(data) => Section::Ready { data },
            Err(AppError::Unavailable(message)) => Section::Unavailable { message },
            Err(AppError::Forbidden(message)) => Section::Denied { message },
            Err(e) => Section::Error {
                message: e.message(),
            },
        }
    }
}

impl<T> Section<T> {
    pub fn ready(&self) -> Option<&T> {
        match self {
            Section::Ready { data } => Some(data),
            _ => None,
        }
    }
}

/// An error as an HTML page.
#[derive(Debug)]
pub struct PageError(pub AppError);

impl From<AppError> for PageError {
    fn from(e: AppError) -> PageError {
        PageError(e)
    }
}

impl From<crate::filters::BadParam> for PageError {
    fn from(e: crate::filters::BadParam) -> PageError {
        PageError(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        log_server_error(&self.0);
        let html = templates::ENV
            .get_template("error.html")
            .and_then(|t| {
                t.render(minijinja::context! {
                    status => status.as_u16(),
                    reason => status.canonical_reason().unwrap_or(""),
                    message => self.0.message(),
                })
            })
            .unwrap_or_else(|_| "error".to_owned());
        (status, Html(html)).into_response()
    }
}

/// An error as JSON: `{"error": "...", "status": 404}`.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> ApiError {
        ApiError(e)
    }
}

impl From<crate::filters::BadParam> for ApiError {
    fn from(e: crate::filters::BadParam) -> ApiError {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        log_server_error(&self.0);
        (
            status,
            Json(serde_json::json!({ "error": self.0.message(), "status": status.as_u16() })),
        )
            .into_response()
    }
}

fn log_server_error(e: &AppError) {
    if e.status().is_server_error() && !matches!(e, AppError::Unavailable(_)) {
        eprintln!("mq-console: {e}");
    }
}

/// What every page's header shows.
#[derive(Debug, Serialize)]
pub struct Nav {
    pub page: &'static str,
    pub user: String,
    pub role: &'static str,
    pub csrf: String,
    /// Whether a logout button makes sense (a logged-in browser session).
    pub logout: bool,
    pub version: &'static str,
    pub refresh_seconds: u32,
    pub db_error: Option<String>,
}

impl Nav {
    pub fn new(
        state: &AppState,
        catalog: &Catalog,
        principal: &Principal,
        page: &'static str,
    ) -> Nav {
        Nav {
            page,
            user: catalog.user.clone(),
            role: catalog.role_kind(),
            csrf: principal.csrf().unwrap_or_default().to_owned(),
            logout: state.token.is_some() && matches!(principal, Principal::Session(_)),
            version: env!("CARGO_PKG_VERSION"),
            refresh_seconds: state.refresh_seconds,
            db_error: catalog.error.clone(),
        }
    }
}

/// Renders template `name` with `nav` and the page's data `d`.
pub fn render(name: &str, nav: &Nav, d: impl Serialize) -> Result<Html<String>, PageError> {
    templates::ENV
        .get_template(name)
        .and_then(|t| t.render(minijinja::context! { nav => nav, d => d }))
        .map(Html)
        .map_err(|e| PageError(AppError::Internal(format!("template {name}: {e:#}"))))
}

/// A client that waits for failed logins: a guessed token costs the guesser time.
pub const FAILED_LOGIN_DELAY: Duration = Duration::from_millis(300);
