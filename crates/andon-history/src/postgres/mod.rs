//! [`PostgresHistory`]: the history in a PostgreSQL database that a fleet of agents shares.
//! Every row carries the writing agent's `instance`; the same bounded queue and counters as
//! [`SqliteHistory`](crate::SqliteHistory) feed a writer thread that commits batches with one
//! multi-row `INSERT ... SELECT FROM unnest(...)` per table, and holds a batch (reconnecting
//! with backoff) while the server is away. Queries go through a small connection pool.

mod fleet;
mod migrate;
mod query;
mod timeline;
mod tls;
mod write;

use std::sync::Arc;
use std::time::Duration;

use andon_core::config::{HistoryConfig, Secret};
use andon_core::{AndonError, HistoryRecord, HistoryStore, MetricsSink, async_trait};

use crate::error::HistoryError;
use crate::queue::{HistoryStats, Intake};

pub use fleet::{FleetEntry, FleetLine, FleetReport, NO_DATA_AFTER_INTERVALS};
pub use migrate::POSTGRES_SCHEMA_VERSION;
pub(crate) use query::Fleet;
pub use query::GroupBy;

/// The statement timeout of queries: the same budget as SQLite's watchdog.
const STATEMENT_TIMEOUT_MS: u64 = crate::budget::QUERY_BUDGET.as_millis() as u64;

/// Connections the query pool keeps open, at most.
const POOL_SIZE: usize = 4;

/// The waits between reconnection attempts of the writer: 100 ms, doubling, at most 2 s
/// (without jitter: one writer per agent, nothing to spread).
pub(crate) fn reconnect_backoff() -> andon_runtime::Backoff {
    andon_runtime::Backoff::new(Duration::from_millis(100))
        .with_cap(Duration::from_secs(2))
        .without_jitter()
}

/// Reconnections of the PostgreSQL history writer after losing the server (a counter).
pub(crate) const RECONNECTS_TOTAL: &str = "andon_history_reconnects_total";

/// A driver error as a [`HistoryError`], with the SQLSTATE of a cancelled statement as
/// [`HistoryError::TooSlow`].
pub(crate) fn error(what: &'static str, error: &tokio_postgres::Error) -> HistoryError {
    if error.code() == Some(&tokio_postgres::error::SqlState::QUERY_CANCELED) {
        return HistoryError::TooSlow {
            budget: crate::budget::QUERY_BUDGET,
        };
    }
    let message = match error.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            let mut text = error.to_string();
            let mut source = std::error::Error::source(error);
            while let Some(inner) = source {
                text = format!("{text}: {inner}");
                source = inner.source();
            }
            text
        }
    };
    HistoryError::Postgres { what, message }
}

/// The host name, for `[history] instance` left out.
pub fn default_instance() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "andon".to_owned())
}

/// The instance name `config` gives this agent.
pub fn instance_of(config: &HistoryConfig) -> String {
    config.instance.clone().unwrap_or_else(default_instance)
}

/// Builds a [`PostgresHistory`] from a `[history]` section with a `url`.
#[must_use]
pub struct PostgresHistoryBuilder {
    config: HistoryConfig,
    url: Secret,
    metrics: Option<Arc<dyn MetricsSink>>,
    schema_version: i64,
}

impl std::fmt::Debug for PostgresHistoryBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresHistoryBuilder")
            .field("url", &self.url)
            .field("instance", &self.config.instance)
            .finish_non_exhaustive()
    }
}

impl PostgresHistoryBuilder {
    /// Counts drops, writes, failures and reconnections as `andon_history_*` metrics in `sink`.
    pub fn with_metrics_sink(mut self, sink: Arc<dyn MetricsSink>) -> Self {
        self.metrics = Some(sink);
        self
    }

    /// Migrates only up to `version` (for tests of the migration from an older release).
    #[doc(hidden)]
    pub fn with_schema_version(mut self, version: i64) -> Self {
        self.schema_version = version.clamp(0, POSTGRES_SCHEMA_VERSION);
        self
    }

    /// Connects, migrates the schema and starts the writer thread. Fails when the server
    /// cannot be reached now: a first start needs the database (later outages are held out).
    pub async fn connect(self) -> Result<PostgresHistory, HistoryError> {
        let PostgresHistoryBuilder {
            config,
            url,
            metrics,
            schema_version,
        } = self;
        let redact = |e: HistoryError| match e {
            HistoryError::Postgres { what, message } => HistoryError::Postgres {
                what,
                message: url.redact_in(&message),
            },
            other => other,
        };
        let (pg, tls) = parse(&url)?;
        let mut client = write::connect(&pg, &tls).await.map_err(redact)?;
        migrate::migrate_to(&mut client, schema_version)
            .await
            .map_err(redact)?;
        drop(client);
        let mut query_config = pg.clone();
        query_config.options(format!("-c statement_timeout={STATEMENT_TIMEOUT_MS}"));
        let manager = deadpool_postgres::Manager::from_config(
            query_config,
            tls.clone(),
            deadpool_postgres::ManagerConfig {
                recycling_method: deadpool_postgres::RecyclingMethod::Fast,
            },
        );
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(crate::budget::QUERY_BUDGET))
            .create_timeout(Some(crate::budget::QUERY_BUDGET))
            .build()
            .map_err(|e| HistoryError::Postgres {
                what: "build the connection pool",
                message: url.redact_in(&e.to_string()),
            })?;
        if let Some(sink) = &metrics {
            sink.describe(
                RECONNECTS_TOTAL,
                "reconnections of the PostgreSQL history writer after losing the server",
            );
        }
        let instance = instance_of(&config);
        let (intake, ends) = Intake::new(&config, metrics);
        let worker = write::Worker {
            ends,
            pg,
            tls,
            instance: instance.clone(),
            batch_size: config.batch_size.max(1),
            retention_age: config.retention_age,
            url: url.clone(),
        };
        intake
            .start_writer("andon-history-pg", move || worker.run())
            .map_err(|e| HistoryError::Postgres {
                what: "start the writer thread",
                message: e.to_string(),
            })?;
        Ok(PostgresHistory {
            inner: Arc::new(Inner {
                instance,
                url,
                intake,
                pool,
            }),
        })
    }
}

/// `url` as the driver's configuration and the TLS connector its `sslmode` and `sslrootcert`
/// ask for; an unparsable URL is named by its key, never shown.
fn parse(url: &Secret) -> Result<(tokio_postgres::Config, tls::MakeRustls), HistoryError> {
    let tls = tls::from_url(url.expose())?;
    let mut config: tokio_postgres::Config =
        tls.url
            .parse()
            .map_err(|e: tokio_postgres::Error| HistoryError::Postgres {
                what: "read [history] url",
                message: url.redact_in(&e.to_string()),
            })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(5));
    }
    config.application_name("andon");
    config.ssl_mode(tls.mode);
    Ok((config, tls.connector))
}

/// The history in PostgreSQL, shared by a fleet: every row carries this agent's `instance`; a
/// writer thread commits batches with one multi-row `INSERT ... SELECT FROM unnest(...)` per
/// table and holds a batch (reconnecting with backoff) while the server is away; queries go
/// through a small connection pool.
///
/// [`record`](HistoryStore::record) only enqueues into the same bounded queue as SQLite's (a
/// full queue or byte budget is counted in `andon_history_dropped_total`); while the server is
/// away the writer holds its batch and retries with backoff, so what was accepted is written
/// once it is back. Cloning is cheap and every clone is the same store.
#[derive(Clone)]
pub struct PostgresHistory {
    inner: Arc<Inner>,
}

struct Inner {
    instance: String,
    url: Secret,
    intake: Intake,
    pool: deadpool_postgres::Pool,
}

impl std::fmt::Debug for PostgresHistory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresHistory")
            .field("url", &Secret::REDACTED)
            .field("instance", &self.inner.instance)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl PostgresHistory {
    /// A builder for `config`, whose `url` must be set.
    pub fn builder(config: &HistoryConfig) -> Result<PostgresHistoryBuilder, HistoryError> {
        let url = config.url.clone().ok_or_else(|| {
            HistoryError::Invalid(
                "[history] url is not set: give postgres://user:${PGPASSWORD}@host:5432/db".into(),
            )
        })?;
        Ok(PostgresHistoryBuilder {
            config: config.clone(),
            url,
            metrics: None,
            schema_version: POSTGRES_SCHEMA_VERSION,
        })
    }

    /// The name this agent's rows carry.
    pub fn instance(&self) -> &str {
        &self.inner.instance
    }

    /// What the store did so far.
    pub fn stats(&self) -> HistoryStats {
        self.inner.intake.stats()
    }

    /// Why the last failed batch failed (with any secret redacted).
    pub fn last_error(&self) -> Option<String> {
        self.inner.intake.last_error()
    }

    /// The schema version of the database.
    pub async fn schema_version(&self) -> Result<i64, HistoryError> {
        let client = self.client().await?;
        migrate::version(&client).await
    }

    /// A pooled connection for a query.
    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object, HistoryError> {
        self.inner
            .pool
            .get()
            .await
            .map_err(|e| HistoryError::Postgres {
                what: "connect",
                message: self.inner.url.redact_in(&e.to_string()),
            })
    }

    /// A driver error of a query, redacted.
    pub(crate) fn query_error(&self, e: &tokio_postgres::Error) -> HistoryError {
        match error("query", e) {
            HistoryError::Postgres { what, message } => HistoryError::Postgres {
                what,
                message: self.inner.url.redact_in(&message),
            },
            other => other,
        }
    }
}

#[async_trait]
impl HistoryStore for PostgresHistory {
    fn record(&self, record: HistoryRecord) {
        self.inner.intake.record(record);
    }

    async fn flush(&self) -> Result<(), AndonError> {
        Ok(self.inner.intake.flush().await?)
    }

    /// The writer gives up retrying a lost server once shutdown began, counting what it held.
    async fn shutdown(&self) -> Result<(), AndonError> {
        let stopped = self.inner.intake.shutdown().await;
        self.inner.pool.close();
        Ok(stopped?)
    }
}
