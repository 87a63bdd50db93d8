//! The read side over PostgreSQL: the same answers as SQLite's, over every instance of the
//! database or one (`instance`), and grouped by instance where asked. The folds (MTTA/MTTR,
//! downtime, Pareto bars) are SQLite's own, fed with rows from here.

use std::collections::{BTreeMap, HashMap};

use andon_core::{Color, async_trait};

use super::PostgresHistory;
use crate::error::{HistoryError, Result};
use crate::query::{
    Downtime, DowntimeFrame, Pareto, ParetoBy, ParetoColumns, ResponseTimes, SignalQuery,
    StoredSignal, Window, WindowMillis, finish_pareto, fold_downtime, fold_response_times,
    json_or_empty, parse_color,
};
use crate::read::Reader;
use crate::schema::HOUR_MS;
use crate::store::from_millis;
use crate::timeline_rows::Incident;

/// What MTTA/MTTR are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// The alert's or line's component.
    Component,
    /// The agent (`[history] instance`).
    Instance,
}

/// A signal from a row whose columns are `id, at_ms, color, component, message, fingerprint,
/// trace_id, attributes, instance` (the SQLite reader's columns plus the instance).
pub(super) fn stored_signal(row: &tokio_postgres::Row) -> StoredSignal {
    StoredSignal {
        id: row.get(0),
        at: from_millis(row.get(1)),
        color: parse_color(row.get(2)),
        component: row.get(3),
        message: row.get(4),
        fingerprint: row.get(5),
        trace_id: row.get(6),
        attributes: json_or_empty(row.get(7)),
        instance: Some(row.get(8)),
    }
}

impl PostgresHistory {
    /// How many signals the database holds, of every instance.
    pub async fn signal_count(&self) -> Result<u64, HistoryError> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT count(*) FROM signals", &[])
            .await
            .map_err(|e| self.query_error(&e))?;
        Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    }
}

/// The database seen from one instance (`instance`), or from the whole fleet (`None`).
pub(crate) struct Fleet<'a> {
    /// The store.
    pub(crate) store: &'a PostgresHistory,
    /// Only this instance's rows.
    pub(crate) instance: Option<&'a str>,
}

#[async_trait]
impl Reader for Fleet<'_> {
    async fn incident(&self, key: &str, rows: usize) -> Result<Incident> {
        self.store.incident(key, rows).await
    }

    async fn signals(&self, query: &SignalQuery) -> Result<Vec<StoredSignal>> {
        let instance = self.instance;
        let (from, to) = query.window.millis();
        let client = self.store.client().await?;
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let color = query.color.map(Color::as_str);
        let rows = client
            .query(
                "SELECT id, at_ms, color, component, message, fingerprint, trace_id, attributes, instance
                 FROM signals
                 WHERE at_ms >= $1 AND at_ms < $2
                   AND ($3::text IS NULL OR component = $3)
                   AND ($4::text IS NULL OR color = $4)
                   AND ($5::text IS NULL OR instance = $5)
                 ORDER BY at_ms DESC, seq DESC LIMIT $6",
                &[&from, &to, &query.component, &color, &instance, &limit],
            )
            .await
            .map_err(|e| self.store.query_error(&e))?;
        Ok(rows.iter().map(stored_signal).collect())
    }

    async fn pareto(&self, window: Window, by: ParetoBy, colors: &[Color]) -> Result<Pareto> {
        let instance = self.instance;
        let colors: Vec<Color> = if colors.is_empty() {
            vec![Color::Red, Color::Yellow]
        } else {
            colors.to_vec()
        };
        let names: Vec<&str> = colors.iter().map(|c| c.as_str()).collect();
        let (from, to) = window.millis();
        let client = self.store.client().await?;
        let mut totals: HashMap<String, u64> = HashMap::new();
        let raw = format!(
            "SELECT {key}, count(*) FROM signals
             WHERE at_ms >= $1 AND at_ms < $2 AND color = ANY($3) AND ($4::text IS NULL OR instance = $4)
             GROUP BY 1",
            key = match by {
                ParetoBy::Component => "COALESCE(component, 'unknown')",
                ParetoBy::Fingerprint => "fingerprint",
                ParetoBy::Instance => "instance",
            }
        );
        let hourly = format!(
            "SELECT {key}, sum(n)::bigint FROM signal_counts
             WHERE hour >= $1 AND hour < $2 AND color = ANY($3) AND ($4::text IS NULL OR instance = $4)
             GROUP BY 1",
            key = by.count_column()
        );
        // Whole hours from the hourly counts; the ragged ends from the signals themselves.
        let first_hour = from.div_euclid(HOUR_MS) + i64::from(from.rem_euclid(HOUR_MS) != 0);
        let end_hour = to.div_euclid(HOUR_MS);
        let parts: Vec<(&str, i64, i64)> = if first_hour < end_hour {
            vec![
                (hourly.as_str(), first_hour, end_hour),
                (raw.as_str(), from, first_hour * HOUR_MS),
                (raw.as_str(), end_hour * HOUR_MS, to),
            ]
        } else {
            vec![(raw.as_str(), from, to)]
        };
        for (sql, lo, hi) in parts {
            if lo >= hi {
                continue;
            }
            let rows = client
                .query(sql, &[&lo, &hi, &names, &instance])
                .await
                .map_err(|e| self.store.query_error(&e))?;
            for row in rows {
                let n: i64 = row.get(1);
                *totals.entry(row.get(0)).or_insert(0) += u64::try_from(n).unwrap_or(0);
            }
        }
        Ok(finish_pareto(totals, by, window, colors))
    }

    async fn response_times(&self, window: Window, by: GroupBy) -> Result<Vec<ResponseTimes>> {
        let instance = self.instance;
        let (from, to) = window.millis();
        let group = match by {
            GroupBy::Component => "COALESCE(component, 'unknown')",
            GroupBy::Instance => "instance",
        };
        let client = self.store.client().await?;
        // An alert is one fingerprint of one instance: two agents' alerts of the same rule are
        // two firings.
        let rows = client
            .query(
                &format!(
                    "SELECT instance || chr(31) || fingerprint, at_ms, kind, {group} FROM alert_events a
                     WHERE ($3::text IS NULL OR instance = $3) AND at_ms >= $1
                       AND EXISTS (SELECT 1 FROM alert_events f
                                   WHERE f.instance = a.instance AND f.fingerprint = a.fingerprint
                                     AND f.kind = 'fired' AND f.at_ms >= $1 AND f.at_ms < $2)
                     ORDER BY instance, fingerprint, at_ms, seq"
                ),
                &[&from, &to, &instance],
            )
            .await
            .map_err(|e| self.store.query_error(&e))?;
        fold_response_times(
            rows.iter()
                .map(|row| Ok((row.get(0), row.get(1), row.get(2), row.get(3)))),
            to,
        )
    }

    /// One instance's rows when the reader is for one, with its (empty) buckets even when it
    /// has no rows.
    async fn downtime_by_instance(
        &self,
        frame: &DowntimeFrame,
    ) -> Result<BTreeMap<String, Vec<Downtime>>> {
        let instance = self.instance;
        let (from, to) = frame.window();
        let client = self.store.client().await?;
        let rows = client
            .query(
                "SELECT instance, at_ms, kind FROM line_events l
                 WHERE ($3::text IS NULL OR instance = $3)
                   AND at_ms >= COALESCE((SELECT max(at_ms) FROM line_events p
                                          WHERE p.instance = l.instance AND p.at_ms < $1 AND p.kind = 'stopped'), $1)
                   AND at_ms < $2
                 ORDER BY instance, at_ms, seq",
                &[&from, &to, &instance],
            )
            .await
            .map_err(|e| self.store.query_error(&e))?;
        let mut events: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
        for row in &rows {
            events
                .entry(row.get(0))
                .or_default()
                .push((row.get(1), row.get(2)));
        }
        let mut out = BTreeMap::new();
        for (name, list) in events {
            out.insert(name, fold_downtime(list.into_iter().map(Ok), frame)?);
        }
        if let Some(name) = instance
            && !out.contains_key(name)
        {
            out.insert(name.to_owned(), fold_downtime(std::iter::empty(), frame)?);
        }
        Ok(out)
    }
}
