//! [`HistoryBackendBuilder`]: the history's parts, given before it is opened (the
//! [`andon_core::contract`] every component follows), and its lifecycle ([`Component`]).

use std::sync::Arc;
use std::time::Duration;

use andon_core::config::HistoryConfig;
use andon_core::{AndonError, HistoryStore, MetricsSink, ShutdownReport};

use crate::backend::HistoryBackend;
use crate::error::HistoryError;
use crate::postgres::{PostgresHistory, instance_of};
use crate::store::{Clock, SqliteHistory};

/// Opens a [`HistoryBackend`] from its `[history]` section: PostgreSQL when `url` is set,
/// else the SQLite file at `path`.
///
/// ```
/// use andon_core::config::HistoryConfig;
/// use andon_history::HistoryBackend;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let config = HistoryConfig {
///     path: dir.path().join("history.sqlite3").display().to_string(),
///     ..HistoryConfig::default()
/// };
/// let history = HistoryBackend::builder(config)
///     .with_metrics_sink(std::sync::Arc::new(andon_core::Noop)) // its queue and write counters
///     .build()
///     .await?;
/// assert_eq!(history.kind(), "sqlite");
/// assert!(history.shutdown(std::time::Duration::from_secs(5)).await.is_complete());
/// # Ok(())
/// # }
/// ```
#[must_use = "a builder does nothing until `build` is awaited"]
pub struct HistoryBackendBuilder {
    config: HistoryConfig,
    metrics: Option<Arc<dyn MetricsSink>>,
    clock: Option<Arc<dyn Clock>>,
}

impl std::fmt::Debug for HistoryBackendBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryBackendBuilder")
            .field("metrics", &self.metrics.is_some())
            .field("clock", &self.clock.is_some())
            .finish_non_exhaustive()
    }
}

impl HistoryBackendBuilder {
    pub(crate) fn new(config: HistoryConfig) -> Self {
        HistoryBackendBuilder {
            config,
            metrics: None,
            clock: None,
        }
    }

    /// Publishes the store's queue and write counters (`andon_history_*`) through `sink`.
    pub fn with_metrics_sink(mut self, sink: Arc<dyn MetricsSink>) -> Self {
        self.metrics = Some(sink);
        self
    }

    /// Reads "now" from `clock` instead of the system clock, for retention (SQLite): for tests
    /// and simulations.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Opens the backend: PostgreSQL when `[history] url` is set (connecting and migrating
    /// now), else the SQLite file at `path` (created and migrated now).
    ///
    /// # Errors
    ///
    /// [`HistoryError`] naming what could not be opened or connected and how to fix it.
    pub async fn build(self) -> Result<HistoryBackend, HistoryError> {
        let config = &self.config;
        if config.url.is_some() {
            let mut builder = PostgresHistory::builder(config)?;
            if let Some(sink) = self.metrics {
                builder = builder.with_metrics_sink(sink);
            }
            return Ok(HistoryBackend::Postgres(builder.connect().await?));
        }
        let mut builder = SqliteHistory::builder(config);
        if let Some(sink) = self.metrics {
            builder = builder.with_metrics_sink(sink);
        }
        if let Some(clock) = self.clock {
            builder = builder.with_clock(clock);
        }
        Ok(HistoryBackend::Sqlite {
            store: builder.open()?,
            instance: instance_of(config),
        })
    }
}

impl HistoryBackend {
    /// A builder for the history of `config` (the `[history]` section); see
    /// [`andon_core::contract`] for the shape every component shares.
    pub fn builder(config: HistoryConfig) -> HistoryBackendBuilder {
        HistoryBackendBuilder::new(config)
    }

    /// Waits until every record accepted so far is written.
    ///
    /// # Errors
    ///
    /// The store's error when the writer has stopped or cannot write.
    pub async fn flush(&self) -> Result<(), AndonError> {
        match self {
            HistoryBackend::Sqlite { store, .. } => store.flush().await,
            HistoryBackend::Postgres(store) => store.flush().await,
        }
    }

    /// Writes what is queued and stops the writer within `deadline` (PostgreSQL: closes the
    /// pool); later records are refused. Past the deadline the report says what was still
    /// queued.
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        let stop = async {
            match self {
                HistoryBackend::Sqlite { store, .. } => store.shutdown().await,
                HistoryBackend::Postgres(store) => store.shutdown().await,
            }
        };
        match tokio::time::timeout(deadline, stop).await {
            Ok(Ok(())) => ShutdownReport::complete("history"),
            Ok(Err(error)) => ShutdownReport::incomplete("history", 0, error.to_string()),
            Err(_) => {
                let mut report = ShutdownReport::timed_out("history", 0, deadline);
                report.error = Some(format!(
                    "did not flush within {deadline:?}; records still queued may be lost"
                ));
                report
            }
        }
    }
}

andon_core::impl_component!(HistoryBackend, "history");
