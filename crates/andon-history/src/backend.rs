//! [`HistoryBackend`]: one store and one query API over both backends, the SQLite file of one
//! agent or the PostgreSQL database of a fleet, chosen by `[history] url`.
//!
//! Every query takes an optional `instance`: with PostgreSQL it selects one agent's rows (none:
//! the whole fleet); a SQLite file holds one instance, so another name finds nothing.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use andon_core::{AndonError, Color, HistoryRecord, HistoryStore, async_trait};

use crate::error::HistoryError;
use crate::fold::{DowntimeFrame, fold_downtime};
use crate::postgres::{Fleet, GroupBy, PostgresHistory};
use crate::query::{Downtime, Pareto, ParetoBy, ResponseTimes, SignalQuery, StoredSignal, Window};
use crate::queue::HistoryStats;
use crate::read::{Local, Reader};
use crate::store::SqliteHistory;
use crate::timeline::{Timeline, page_rows};

/// The history of this agent: SQLite (one agent) or PostgreSQL (a fleet). Cloning is cheap.
#[derive(Debug, Clone)]
pub enum HistoryBackend {
    /// The embedded file (`[history] path`).
    Sqlite {
        /// The store.
        store: SqliteHistory,
        /// The name its rows are shown under (`[history] instance`, default the host name).
        instance: String,
    },
    /// A shared PostgreSQL database (`[history] url`).
    Postgres(PostgresHistory),
}

impl From<SqliteHistory> for HistoryBackend {
    fn from(store: SqliteHistory) -> Self {
        HistoryBackend::Sqlite {
            store,
            instance: crate::postgres::default_instance(),
        }
    }
}

impl From<PostgresHistory> for HistoryBackend {
    fn from(store: PostgresHistory) -> Self {
        HistoryBackend::Postgres(store)
    }
}

impl HistoryBackend {
    /// `sqlite` or `postgres`.
    pub fn kind(&self) -> &'static str {
        match self {
            HistoryBackend::Sqlite { .. } => "sqlite",
            HistoryBackend::Postgres(_) => "postgres",
        }
    }

    /// This agent's instance name.
    pub fn instance(&self) -> &str {
        match self {
            HistoryBackend::Sqlite { instance, .. } => instance,
            HistoryBackend::Postgres(store) => store.instance(),
        }
    }

    /// The SQLite store, when that is the backend.
    pub fn as_sqlite(&self) -> Option<&SqliteHistory> {
        match self {
            HistoryBackend::Sqlite { store, .. } => Some(store),
            HistoryBackend::Postgres(_) => None,
        }
    }

    /// The PostgreSQL store, when that is the backend.
    pub fn as_postgres(&self) -> Option<&PostgresHistory> {
        match self {
            HistoryBackend::Postgres(store) => Some(store),
            HistoryBackend::Sqlite { .. } => None,
        }
    }

    /// What the store did so far.
    pub fn stats(&self) -> HistoryStats {
        match self {
            HistoryBackend::Sqlite { store, .. } => store.stats(),
            HistoryBackend::Postgres(store) => store.stats(),
        }
    }

    /// The store's reader for `instance` (none: every instance): the one place that tells
    /// the backends apart for queries.
    fn reader<'a>(&'a self, instance: Option<&'a str>) -> Box<dyn Reader + 'a> {
        match self {
            HistoryBackend::Sqlite {
                store,
                instance: me,
            } => Box::new(Local {
                store,
                me,
                holds: instance.is_none_or(|name| name == me),
            }),
            HistoryBackend::Postgres(store) => Box::new(Fleet { store, instance }),
        }
    }

    /// Signals in a time range, newest first, of one instance or all.
    pub async fn signals(
        &self,
        query: &SignalQuery,
        instance: Option<&str>,
    ) -> Result<Vec<StoredSignal>, HistoryError> {
        self.reader(instance).signals(query).await
    }

    /// A Pareto by component, fingerprint or instance, of one instance or all. With no
    /// colors, RED and YELLOW are counted.
    pub async fn pareto(
        &self,
        window: Window,
        by: ParetoBy,
        colors: &[Color],
        instance: Option<&str>,
    ) -> Result<Pareto, HistoryError> {
        self.reader(instance).pareto(window, by, colors).await
    }

    /// MTTA and MTTR per component or per instance (then `component` holds the instance
    /// name), of one instance or all.
    pub async fn response_times(
        &self,
        window: Window,
        by: GroupBy,
        instance: Option<&str>,
    ) -> Result<Vec<ResponseTimes>, HistoryError> {
        self.reader(instance).response_times(window, by).await
    }

    /// Line downtime per bucket (line-seconds, summed over the instances).
    pub async fn downtime(
        &self,
        window: Window,
        bucket: Duration,
        now: SystemTime,
        instance: Option<&str>,
    ) -> Result<Vec<Downtime>, HistoryError> {
        let frame = DowntimeFrame::new(window, bucket, now)?;
        let mut total = fold_downtime(std::iter::empty(), &frame)?;
        let per_instance = self.reader(instance).downtime_by_instance(&frame).await?;
        for buckets in per_instance.into_values() {
            for (sum, one) in total.iter_mut().zip(buckets) {
                sum.stopped_seconds += one.stopped_seconds;
                sum.stops += one.stops;
            }
        }
        Ok(total)
    }

    /// Line downtime per bucket for each instance (one instance when `instance` is given).
    pub async fn downtime_by_instance(
        &self,
        window: Window,
        bucket: Duration,
        now: SystemTime,
        instance: Option<&str>,
    ) -> Result<BTreeMap<String, Vec<Downtime>>, HistoryError> {
        let frame = DowntimeFrame::new(window, bucket, now)?;
        self.reader(instance).downtime_by_instance(&frame).await
    }

    /// One page of an incident's timeline by trace id or alert fingerprint (with PostgreSQL,
    /// across every instance), as [`SqliteHistory::timeline_page`] reads it.
    pub async fn timeline_page(
        &self,
        key: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Timeline, HistoryError> {
        let reader = self.reader(None);
        let incident = reader.incident(key, page_rows(offset, limit)?).await?;
        Ok(incident.page(offset, limit))
    }
}

#[async_trait]
impl HistoryStore for HistoryBackend {
    fn record(&self, record: HistoryRecord) {
        match self {
            HistoryBackend::Sqlite { store, .. } => store.record(record),
            HistoryBackend::Postgres(store) => store.record(record),
        }
    }

    async fn flush(&self) -> Result<(), AndonError> {
        match self {
            HistoryBackend::Sqlite { store, .. } => store.flush().await,
            HistoryBackend::Postgres(store) => store.flush().await,
        }
    }

    async fn shutdown(&self) -> Result<(), AndonError> {
        match self {
            HistoryBackend::Sqlite { store, .. } => store.shutdown().await,
            HistoryBackend::Postgres(store) => store.shutdown().await,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // reason: tests fail loudly

    use std::time::{Duration, SystemTime};

    use andon_core::{AndonSignal, HistoryRecord, HistoryStore};

    use super::*;

    #[tokio::test]
    async fn a_sqlite_file_is_a_fleet_of_one() {
        let backend = HistoryBackend::Sqlite {
            store: SqliteHistory::in_memory().unwrap(),
            instance: "press-1".into(),
        };
        let now = SystemTime::now();
        for component in ["press", "press", "feeder"] {
            backend.record(HistoryRecord::Signal(
                AndonSignal::red("jam")
                    .with_component(component)
                    .with_timestamp(now)
                    .into(),
            ));
        }
        backend.flush().await.unwrap();
        let window = Window::last(Duration::from_secs(60), now + Duration::from_secs(1));
        let by_instance = backend
            .pareto(window, ParetoBy::Instance, &[], None)
            .await
            .unwrap();
        assert_eq!(by_instance.rows.len(), 1);
        assert_eq!(
            (by_instance.rows[0].key.as_str(), by_instance.rows[0].count),
            ("press-1", 3)
        );
        let mine = backend
            .pareto(window, ParetoBy::Component, &[], Some("press-1"))
            .await
            .unwrap();
        assert_eq!(mine.total, 3);
        let other = backend
            .pareto(window, ParetoBy::Component, &[], Some("press-2"))
            .await
            .unwrap();
        assert_eq!(
            other.total, 0,
            "another instance's rows are not in this file"
        );
        let signals = backend
            .signals(&SignalQuery::new(window), None)
            .await
            .unwrap();
        assert_eq!(signals[0].instance.as_deref(), Some("press-1"));
        assert!(
            backend
                .signals(&SignalQuery::new(window), Some("press-2"))
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            backend
                .shutdown(Duration::from_secs(10))
                .await
                .is_complete()
        );
    }
}
