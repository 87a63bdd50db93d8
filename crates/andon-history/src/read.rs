//! The read side every backend answers, as one trait: a [`Reader`] is a store seen from one
//! instance of the fleet (or all of it), and [`HistoryBackend`](crate::HistoryBackend) picks
//! the reader once and checks what every query shares (the timeline page, the downtime
//! buckets) before asking it. PostgreSQL's reader is in `postgres::query`; SQLite's, here, is
//! one file that holds one instance, read on a blocking thread.

use std::collections::BTreeMap;

use andon_core::{Color, async_trait};

use crate::error::{HistoryError, Result};
use crate::fold::DowntimeFrame;
use crate::postgres::GroupBy;
use crate::query::{Downtime, Pareto, ParetoBy, ParetoRow, ResponseTimes, SignalQuery};
use crate::query::{StoredSignal, Window};
use crate::store::SqliteHistory;
use crate::timeline_rows::Incident;

/// The queries of one backend, seen from one instance or the whole fleet.
#[async_trait]
pub(crate) trait Reader: Send + Sync {
    /// Signals in the query's window, newest first.
    async fn signals(&self, query: &SignalQuery) -> Result<Vec<StoredSignal>>;

    /// A Pareto of the signals of `colors` (none: RED and YELLOW) in `window`.
    async fn pareto(&self, window: Window, by: ParetoBy, colors: &[Color]) -> Result<Pareto>;

    /// MTTA and MTTR of the alerts that fired in `window`, per component or per instance.
    async fn response_times(&self, window: Window, by: GroupBy) -> Result<Vec<ResponseTimes>>;

    /// Line downtime in the buckets of `frame`, per instance.
    async fn downtime_by_instance(
        &self,
        frame: &DowntimeFrame,
    ) -> Result<BTreeMap<String, Vec<Downtime>>>;

    /// The records of the incident `key` (a trace id or an alert fingerprint), at most `rows`
    /// of each kind.
    async fn incident(&self, key: &str, rows: usize) -> Result<Incident>;
}

/// A SQLite file seen from one instance: the file holds the rows of `me` only, so a reader for
/// another instance finds nothing.
pub(crate) struct Local<'a> {
    /// The store.
    pub(crate) store: &'a SqliteHistory,
    /// The name its rows are shown under.
    pub(crate) me: &'a str,
    /// Whether the instance asked for is `me` (or none was asked for).
    pub(crate) holds: bool,
}

impl Local<'_> {
    /// Runs `query` on a blocking thread with a clone of the store.
    async fn blocking<T: Send + 'static>(
        &self,
        query: impl FnOnce(SqliteHistory) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || query(store))
            .await
            .map_err(|e| HistoryError::Invalid(format!("the history query stopped: {e}")))?
    }
}

#[async_trait]
impl Reader for Local<'_> {
    async fn signals(&self, query: &SignalQuery) -> Result<Vec<StoredSignal>> {
        if !self.holds {
            return Ok(Vec::new());
        }
        let query = query.clone();
        let mut signals = self.blocking(move |store| store.signals(&query)).await?;
        for signal in &mut signals {
            signal.instance = Some(self.me.to_owned());
        }
        Ok(signals)
    }

    async fn pareto(&self, window: Window, by: ParetoBy, colors: &[Color]) -> Result<Pareto> {
        // One file is one instance: by instance is one bar, the file's total.
        let counted = if by == ParetoBy::Instance {
            ParetoBy::Component
        } else {
            by
        };
        let colors = colors.to_vec();
        let mut pareto = self
            .blocking(move |store| store.pareto(window, counted, &colors))
            .await?;
        pareto.by = by;
        if !self.holds {
            pareto.total = 0;
            pareto.rows.clear();
        } else if by == ParetoBy::Instance && pareto.total > 0 {
            pareto.rows = vec![ParetoRow {
                key: self.me.to_owned(),
                count: pareto.total,
                percent: 100.0,
                cumulative_percent: 100.0,
            }];
        }
        Ok(pareto)
    }

    async fn response_times(&self, window: Window, by: GroupBy) -> Result<Vec<ResponseTimes>> {
        if !self.holds {
            return Ok(Vec::new());
        }
        let rows = self
            .blocking(move |store| store.response_times(window))
            .await?;
        Ok(match by {
            GroupBy::Component => rows,
            GroupBy::Instance => merge_response_times(rows, self.me.to_owned()),
        })
    }

    async fn downtime_by_instance(
        &self,
        frame: &DowntimeFrame,
    ) -> Result<BTreeMap<String, Vec<Downtime>>> {
        let mut out = BTreeMap::new();
        if self.holds {
            let frame = *frame;
            let buckets = self
                .blocking(move |store| store.downtime_in(&frame))
                .await?;
            out.insert(self.me.to_owned(), buckets);
        }
        Ok(out)
    }

    async fn incident(&self, key: &str, rows: usize) -> Result<Incident> {
        let key = key.to_owned();
        self.blocking(move |store| store.incident(&key, rows)).await
    }
}

/// One file's response times as one row for its instance: counts summed, means weighted.
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
