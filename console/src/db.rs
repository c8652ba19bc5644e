//! The connection pool and what the connected role finds in the database: which pg_mq
//! functions exist, with which arguments, and which of them it may execute.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use deadpool_postgres::{
    HookError, Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime,
};
use tokio_postgres::NoTls;

use crate::error::AppError;
use crate::queries;

/// How long the catalog (functions and privileges) is trusted before it is read again.
pub const CATALOG_TTL: Duration = Duration::from_secs(30);

/// A pg_mq function as the connected role sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionInfo {
    pub signature: String,
    /// Names of the input arguments, in order.
    pub args: Vec<String>,
    pub executable: bool,
}

/// The functions and privileges of the connected role, read at start-up and every
/// [`CATALOG_TTL`].
#[derive(Debug, Clone)]
pub struct Catalog {
    pub functions: HashMap<String, FunctionInfo>,
    pub user: String,
    /// Whether the role can read mq.messages (the admin capability gives SELECT on it).
    pub messages_readable: bool,
    pub read_at: Instant,
    /// Set when the catalog could not be read (the database is down): nothing is available.
    pub error: Option<String>,
}

impl Catalog {
    pub fn unknown(error: String) -> Catalog {
        Catalog {
            functions: HashMap::new(),
            user: String::new(),
            messages_readable: false,
            read_at: Instant::now(),
            error: Some(error),
        }
    }

    /// Whether the installed pg_mq has `function`.
    pub fn has(&self, function: &str) -> bool {
        self.functions.contains_key(function)
    }

    /// Whether the role may execute `function` (and it exists).
    pub fn can(&self, function: &str) -> bool {
        self.functions.get(function).is_some_and(|f| f.executable)
    }

    /// The input argument names of `function` (empty when it is missing).
    pub fn args(&self, function: &str) -> &[String] {
        self.functions
            .get(function)
            .map(|f| f.args.as_slice())
            .unwrap_or(&[])
    }

    /// `Unavailable` when the function is missing, `Forbidden` when the role may not call it.
    pub fn require(&self, function: &str) -> Result<(), AppError> {
        match self.functions.get(function) {
            None => Err(AppError::missing(function)),
            Some(f) if !f.executable => Err(AppError::Forbidden(format!(
                "role {} may not execute {}",
                self.user, f.signature
            ))),
            Some(_) => Ok(()),
        }
    }

    /// What the role may do, for the header: admin acts, monitor sees.
    pub fn role_kind(&self) -> &'static str {
        if self.can("mq_replay") || self.can("mq_replay_batch") {
            "admin"
        } else if self.can("mq_metrics") || self.can("mq_dashboard") {
            "monitor"
        } else {
            "none"
        }
    }

    pub fn can_replay(&self) -> bool {
        self.can("mq_replay_batch")
    }

    pub fn can_pause(&self) -> bool {
        self.can("mq_pause") && self.can("mq_resume")
    }
}

pub struct Db {
    pool: Pool,
    catalog: RwLock<Arc<Catalog>>,
    refreshing: tokio::sync::Mutex<()>,
}

impl Db {
    /// A pool for `url`; every new connection gets `statement_timeout` and UTC. Connects
    /// lazily: a database that is down at start-up is reported by /healthz, not fatal.
    pub fn new(url: &str, pool_size: u16, statement_timeout: Duration) -> Result<Db, String> {
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e| format!("bad database URL: {e}"))?;
        if config.get_application_name().is_none() {
            config.application_name("mq-console");
        }
        config.connect_timeout(Duration::from_secs(5));
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let setup = queries::session_setup(statement_timeout);
        let pool = Pool::builder(manager)
            .max_size(usize::from(pool_size))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(5)))
            .create_timeout(Some(Duration::from_secs(5)))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .post_create(deadpool_postgres::Hook::async_fn(move |client, _| {
                let setup = setup.clone();
                Box::pin(async move {
                    client
                        .batch_execute(&setup)
                        .await
                        .map_err(HookError::Backend)
                })
            }))
            .build()
            .map_err(|e| format!("cannot build the connection pool: {e}"))?;
        Ok(Db {
            pool,
            catalog: RwLock::new(Arc::new(Catalog::unknown("not read yet".to_owned()))),
            refreshing: tokio::sync::Mutex::new(()),
        })
    }

    pub async fn client(&self) -> Result<Object, AppError> {
        Ok(self.pool.get().await?)
    }

    fn current(&self) -> Arc<Catalog> {
        self.catalog
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The catalog, read again when it is older than [`CATALOG_TTL`] or could not be read.
    /// Only one request reads it at a time; the others use the one they have.
    pub async fn catalog(&self) -> Arc<Catalog> {
        let current = self.current();
        let stale = current.error.is_some() || current.read_at.elapsed() >= CATALOG_TTL;
        if !stale {
            return current;
        }
        let Ok(_guard) = self.refreshing.try_lock() else {
            if current.error.is_none() {
                return current;
            }
            // Nothing usable yet: wait for the read under way.
            let _wait = self.refreshing.lock().await;
            return self.current();
        };
        self.refresh().await
    }

    /// Reads the catalog now.
    pub async fn refresh(&self) -> Arc<Catalog> {
        let fresh = match self.client().await {
            Ok(client) => queries::catalog(&client)
                .await
                .unwrap_or_else(|e| Catalog::unknown(e.message())),
            Err(e) => Catalog::unknown(e.message()),
        };
        let fresh = Arc::new(fresh);
        *self.catalog.write().unwrap_or_else(|e| e.into_inner()) = fresh.clone();
        fresh
    }

    /// Forgets the catalog, e.g. after a function vanished under a request.
    pub fn invalidate(&self) {
        let mut guard = self.catalog.write().unwrap_or_else(|e| e.into_inner());
        let mut stale = (**guard).clone();
        stale.read_at = Instant::now() - CATALOG_TTL;
        *guard = Arc::new(stale);
    }

    /// `SELECT 1` within two seconds.
    pub async fn ping(&self) -> bool {
        let attempt = async {
            let client = self.client().await?;
            queries::ping(&client).await
        };
        matches!(
            tokio::time::timeout(Duration::from_secs(2), attempt).await,
            Ok(Ok(()))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(functions: &[(&str, bool)]) -> Catalog {
        Catalog {
            functions: functions
                .iter()
                .map(|(name, executable)| {
                    (
                        (*name).to_owned(),
                        FunctionInfo {
                            signature: format!("{name}()"),
                            args: vec![],
                            executable: *executable,
                        },
                    )
                })
                .collect(),
            user: "ops".into(),
            messages_readable: false,
            read_at: Instant::now(),
            error: None,
        }
    }

    #[test]
    fn roles_follow_privileges() {
        let admin = catalog(&[
            ("mq_replay", true),
            ("mq_replay_batch", true),
            ("mq_metrics", true),
        ]);
        assert_eq!(admin.role_kind(), "admin");
        assert!(admin.can_replay());
        assert!(!admin.can_pause(), "mq_pause is not installed");
        let monitor = catalog(&[("mq_replay", false), ("mq_metrics", true)]);
        assert_eq!(monitor.role_kind(), "monitor");
        assert!(!monitor.can_replay());
        assert_eq!(catalog(&[]).role_kind(), "none");
    }

    #[test]
    fn require_tells_missing_from_forbidden() {
        let c = catalog(&[("mq_replay", false)]);
        assert!(matches!(
            c.require("mq_pause"),
            Err(AppError::Unavailable(_))
        ));
        assert!(matches!(
            c.require("mq_replay"),
            Err(AppError::Forbidden(_))
        ));
        let c = catalog(&[("mq_pause", true)]);
        assert!(c.require("mq_pause").is_ok());
    }
}
