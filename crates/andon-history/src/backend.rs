//! [`HistoryBackend`]: one store and one query API over both backends, the SQLite file of one
//! agent or the PostgreSQL database of a fleet, chosen by `[history] url`.
//!
//! Every query takes an optional `instance`: with PostgreSQL it selects one agent's rows (none:
//! the whole fleet); a SQLite file holds one instance, so another name finds nothing.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use andon_core::{AndonError, Color, HistoryRecord, HistoryStore, async_trait};

use crate::error::HistoryError;
use crate::postgres::{GroupBy, PostgresHistory};
use crate::query::{
    Downtime, Pareto, ParetoBy, ParetoRow, ResponseTimes, SignalQuery, StoredSignal, Window,
};
use crate::queue::HistoryStats;
use crate::store::SqliteHistory;
use crate::timeline::Timeline;

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

    /// Whether a SQLite file (one instance) can hold rows of `instance`.
    fn local(&self, instance: Option<&str>) -> bool {
        instance.is_none_or(|name| name == self.instance())
    }

    /// The SQLite store (a clone, for a blocking thread) and its instance name, when this is
    /// SQLite and the file can hold rows of `instance`.
    fn sqlite_holding(&self, instance: Option<&str>) -> Option<(SqliteHistory, String)> {
        match self {
            HistoryBackend::Sqlite {
                store,
                instance: me,
            } if self.local(instance) => Some((store.clone(), me.clone())),
            _ => None,
        }
    }

    /// Signals in a time range, newest first, of one instance or all.
    pub async fn signals(
        &self,
        query: &SignalQuery,
        instance: Option<&str>,
    ) -> Result<Vec<StoredSignal>, HistoryError> {
        let Some((store, me)) = self.sqlite_holding(instance) else {
            return match self {
                HistoryBackend::Postgres(store) => store.signals(query, instance).await,
                HistoryBackend::Sqlite { .. } => Ok(Vec::new()),
            };
        };
        let query = query.clone();
        let mut signals = blocking(move || store.signals(&query)).await?;
        for signal in &mut signals {
            signal.instance = Some(me.clone());
        }
        Ok(signals)
    }

    /// A Pareto by component, fingerprint or instance, of one instance or all.
    pub async fn pareto(
        &self,
        window: Window,
        by: ParetoBy,
        colors: &[Color],
        instance: Option<&str>,
    ) -> Result<Pareto, HistoryError> {
        match self {
            HistoryBackend::Postgres(store) => store.pareto(window, by, colors, instance).await,
            HistoryBackend::Sqlite {
                store,
                instance: me,
            } => {
                let (store, colors_owned, me) = (store.clone(), colors.to_vec(), me.clone());
                let local = self.local(instance);
                let counted = if by == ParetoBy::Instance {
                    ParetoBy::Component
                } else {
                    by
                };
                let mut pareto =
                    blocking(move || store.pareto(window, counted, &colors_owned)).await?;
                pareto.by = by;
                if !local {
                    pareto.total = 0;
                    pareto.rows.clear();
                } else if by == ParetoBy::Instance && pareto.total > 0 {
                    pareto.rows = vec![ParetoRow {
                        key: me,
                        count: pareto.total,
                        percent: 100.0,
                        cumulative_percent: 100.0,
                    }];
                }
                Ok(pareto)
            }
        }
    }

    /// MTTA and MTTR per component or per instance, of one instance or all.
    pub async fn response_times(
        &self,
        window: Window,
        by: GroupBy,
        instance: Option<&str>,
    ) -> Result<Vec<ResponseTimes>, HistoryError> {
        let Some((store, me)) = self.sqlite_holding(instance) else {
            return match self {
                HistoryBackend::Postgres(store) => store.response_times(window, by, instance).await,
                HistoryBackend::Sqlite { .. } => Ok(Vec::new()),
            };
        };
        let rows = blocking(move || store.response_times(window)).await?;
        Ok(match by {
            GroupBy::Component => rows,
            GroupBy::Instance => merge_response_times(rows, me),
        })
    }

    /// Line downtime per bucket (line-seconds, summed over the instances).
    pub async fn downtime(
        &self,
        window: Window,
        bucket: Duration,
        now: SystemTime,
        instance: Option<&str>,
    ) -> Result<Vec<Downtime>, HistoryError> {
        match self {
            HistoryBackend::Postgres(store) => store.downtime(window, bucket, now, instance).await,
            HistoryBackend::Sqlite { store, .. } => {
                let local = self.local(instance);
                let store = store.clone();
                let mut buckets = blocking(move || store.downtime(window, bucket, now)).await?;
                if !local {
                    for b in &mut buckets {
                        b.stopped_seconds = 0.0;
                        b.stops = 0;
                    }
                }
                Ok(buckets)
            }
        }
    }

    /// Line downtime per bucket for each instance.
    pub async fn downtime_by_instance(
        &self,
        window: Window,
        bucket: Duration,
        now: SystemTime,
        instance: Option<&str>,
    ) -> Result<BTreeMap<String, Vec<Downtime>>, HistoryError> {
        match self {
            HistoryBackend::Postgres(store) => {
                store
                    .downtime_by_instance(window, bucket, now, instance)
                    .await
            }
            HistoryBackend::Sqlite { instance: me, .. } => {
                let mut out = BTreeMap::new();
                if self.local(instance) {
                    out.insert(me.clone(), self.downtime(window, bucket, now, None).await?);
                }
                Ok(out)
            }
        }
    }

    /// One page of an incident's timeline by trace id or alert fingerprint (with PostgreSQL,
    /// across every instance).
    pub async fn timeline_page(
        &self,
        key: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Timeline, HistoryError> {
        match self {
            HistoryBackend::Sqlite { store, .. } => {
                let (store, key) = (store.clone(), key.to_owned());
                blocking(move || store.timeline_page(&key, offset, limit)).await
            }
            HistoryBackend::Postgres(store) => store.timeline_page(key, offset, limit).await,
        }
    }
}

fn merge_response_times(rows: Vec<ResponseTimes>, instance: String) -> Vec<ResponseTimes> {
    if rows.is_empty() {
        return rows;
    }
    let mut merged = ResponseTimes {
        component: instance,
        fired: 0,
        acknowledged: 0,
        resolved: 0,
        escalated: 0,
        mtta_seconds: None,
        mttr_seconds: None,
    };
    let (mut ack, mut res) = (0.0, 0.0);
    for row in rows {
        merged.fired += row.fired;
        merged.acknowledged += row.acknowledged;
        merged.resolved += row.resolved;
        merged.escalated += row.escalated;
        ack += row.mtta_seconds.unwrap_or(0.0) * row.acknowledged as f64;
        res += row.mttr_seconds.unwrap_or(0.0) * row.resolved as f64;
    }
    merged.mtta_seconds = (merged.acknowledged > 0).then(|| ack / merged.acknowledged as f64);
    merged.mttr_seconds = (merged.resolved > 0).then(|| res / merged.resolved as f64);
    vec![merged]
}

/// Runs a SQLite query on a blocking thread.
async fn blocking<T: Send + 'static>(
    query: impl FnOnce() -> Result<T, HistoryError> + Send + 'static,
) -> Result<T, HistoryError> {
    tokio::task::spawn_blocking(query)
        .await
        .map_err(|e| HistoryError::Invalid(format!("the history query stopped: {e}")))?
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
