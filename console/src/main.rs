//! `mq-console --database-url URL --listen ADDR`: see `mq-console --help`.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use mq_console::auth::{SessionLimits, SessionStore};
use mq_console::config::{check_access, token_from_env, Args};
use mq_console::db::Db;
use mq_console::web::{router, AppState};

fn main() -> ExitCode {
    let args = Args::parse();
    let token = token_from_env();
    if let Err(e) = check_access(token.as_deref(), args.listen) {
        eprintln!("mq-console: {e}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mq-console: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args, token)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mq-console: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args, token: Option<String>) -> Result<(), String> {
    let db = Db::new(&args.database_url, args.pool_size, args.statement_timeout)?;
    let catalog = db.refresh().await;
    match &catalog.error {
        Some(e) => eprintln!(
            "mq-console: the database is not usable yet ({e}); /healthz says so until it is"
        ),
        None => {
            let missing: Vec<&str> = mq_console::queries::FUNCTIONS
                .iter()
                .copied()
                .filter(|f| !catalog.has(f))
                .collect();
            eprintln!(
                "mq-console: connected as {} ({}){}",
                catalog.user,
                catalog.role_kind(),
                if missing.is_empty() {
                    String::new()
                } else {
                    format!("; not in this pg_mq version: {}", missing.join(", "))
                }
            );
        }
    }
    let state = Arc::new(AppState {
        db,
        sessions: SessionStore::new(SessionLimits::default()),
        token: token.clone(),
        cookie_secure: args.cookie_secure,
        refresh_seconds: args.refresh_seconds,
        charts: Default::default(),
    });
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    eprintln!(
        "mq-console: listening on http://{local}/ ({})",
        if token.is_some() {
            "login with MQ_CONSOLE_TOKEN"
        } else {
            "no token: loopback only, no login"
        }
    );
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown())
        .await
        .map_err(|e| format!("server error: {e}"))
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
