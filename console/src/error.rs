//! What can go wrong in a request, and the HTTP status each case answers with.

use std::fmt;

use axum::http::StatusCode;

use crate::filters::BadParam;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppError {
    /// A parameter did not parse, or the database refused an argument (SQLSTATE class 22).
    BadRequest(String),
    /// No valid token or session.
    Unauthorized,
    /// The console's role may not do this (or PostgreSQL said 42501), or the CSRF check failed.
    Forbidden(String),
    NotFound(String),
    /// E.g. a dead letter that was replayed meanwhile (55000).
    Conflict(String),
    /// The installed pg_mq has no such function.
    Unavailable(String),
    /// statement_timeout cancelled the statement.
    Timeout,
    /// No database connection.
    DatabaseDown(String),
    Internal(String),
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Unavailable(_) => StatusCode::NOT_IMPLEMENTED,
            AppError::Timeout => StatusCode::GATEWAY_TIMEOUT,
            AppError::DatabaseDown(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn message(&self) -> String {
        match self {
            AppError::BadRequest(m)
            | AppError::Forbidden(m)
            | AppError::NotFound(m)
            | AppError::Conflict(m)
            | AppError::Unavailable(m)
            | AppError::Internal(m) => m.clone(),
            AppError::Unauthorized => {
                "log in first: a session, or Authorization: Bearer <token>".to_owned()
            }
            AppError::Timeout => {
                "the database did not answer within the statement timeout".to_owned()
            }
            AppError::DatabaseDown(m) => format!("the database is not reachable: {m}"),
        }
    }

    /// A function the installed pg_mq does not have.
    pub fn missing(function: &str) -> AppError {
        AppError::Unavailable(format!("{function} is not available in this pg_mq version"))
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status(), self.message())
    }
}

impl From<BadParam> for AppError {
    fn from(e: BadParam) -> AppError {
        AppError::BadRequest(e.0)
    }
}

impl From<tokio_postgres::Error> for AppError {
    fn from(e: tokio_postgres::Error) -> AppError {
        let Some(db) = e.as_db_error() else {
            return if e.is_closed() {
                AppError::DatabaseDown("the connection was closed".to_owned())
            } else {
                AppError::DatabaseDown(e.to_string())
            };
        };
        let code = db.code().code();
        let message = db.message().to_owned();
        match code {
            "42501" => AppError::Forbidden(message),
            "P0002" => AppError::NotFound(message),
            "55000" => AppError::Conflict(message),
            "57014" => AppError::Timeout,
            // The function or table is not there (an older pg_mq, or being reinstalled).
            "42883" | "42P01" | "3F000" => AppError::Unavailable(message),
            _ if code.starts_with("22") => AppError::BadRequest(message),
            _ if code.starts_with("08") || code.starts_with("57P") => {
                AppError::DatabaseDown(message)
            }
            _ => AppError::Internal(format!("database error {code}: {message}")),
        }
    }
}

impl From<deadpool_postgres::PoolError> for AppError {
    fn from(e: deadpool_postgres::PoolError) -> AppError {
        match e {
            deadpool_postgres::PoolError::Backend(e) => AppError::from(e),
            other => AppError::DatabaseDown(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(
            AppError::missing("mq_pause").status(),
            StatusCode::NOT_IMPLEMENTED
        );
        assert!(AppError::missing("mq_pause")
            .message()
            .contains("not available in this pg_mq version"));
        assert_eq!(
            AppError::Forbidden("x".into()).status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            AppError::from(BadParam("p".into())).status(),
            StatusCode::BAD_REQUEST
        );
    }
}
